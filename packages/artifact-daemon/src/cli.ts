#!/usr/bin/env node
// jetbridge-artifact-daemon: runs on every node (a DaemonSet, see deploy/chart/templates/artifact-daemon.yaml).
import { DAEMON_USAGE, parseDaemonConfig } from './config.js';
import { startArtifactDaemon } from './server.js';

const log = (level: string, fields: Record<string, unknown>, msg: string): void => {
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg })}\n`);
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DAEMON_USAGE);
    return;
  }
  let config;
  try {
    config = parseDaemonConfig(argv);
  } catch (error) {
    process.stderr.write(`jetbridge-artifact-daemon: ${(error as Error).message}\n`);
    process.exit(2);
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
  const stop = (): void => {
    void daemon.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `jetbridge-artifact-daemon: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
