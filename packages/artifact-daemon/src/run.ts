// The daemon as a command: `jetbridge-artifact-daemon` (this package's bin) and `jetbridge artifact-daemon`
// (the web image's CLI, so one image serves the web and the DaemonSet) both run this.
import { DAEMON_USAGE, parseDaemonConfig, type DaemonConfig } from './config.js';
import { startArtifactDaemon } from './server.js';

const log = (level: string, fields: Record<string, unknown>, msg: string): void => {
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg })}\n`);
};

/**
 * Runs the daemon until SIGTERM/SIGINT. Resolves with the exit code: 0 after a clean stop (or `--help`), 2 for a
 * bad setting (the message names its flag, never the key's value). Fails when the daemon cannot start.
 */
export async function runArtifactDaemon(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DAEMON_USAGE);
    return 0;
  }
  let config: DaemonConfig;
  try {
    config = parseDaemonConfig(argv, env);
  } catch (error) {
    process.stderr.write(`jetbridge-artifact-daemon: ${(error as Error).message}\n`);
    return 2;
  }
  const daemon = await startArtifactDaemon({
    root: config.hostPath,
    capabilityKey: config.capabilityKey,
    host: config.bindIp,
    port: config.port,
    ttlMs: config.ttlMs,
    minAvailableBytes: config.minAvailableBytes,
    ...(config.nodeName ? { nodeName: config.nodeName } : {}),
    ...(config.tls ? { tls: config.tls } : {}),
    logger: {
      info: (fields, msg) => log('info', fields, msg),
      warn: (fields, msg) => log('warn', fields, msg),
    },
  });
  log(
    'info',
    { port: daemon.port, root: config.hostPath, tls: config.tls !== undefined },
    'artifact daemon listening',
  );
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      void daemon.close().then(() => resolve(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
