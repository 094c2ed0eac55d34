#!/usr/bin/env node
import { ConfigError, helpText, parseWebConfig } from './config/index.js';
import { startJetBridge } from './server.js';
import { JETBRIDGE_VERSION } from './version.js';

const COMMANDS = `Commands:
  web               Run the JetBridge web node (Concourse API, UI, scheduler)
  artifact-daemon   Run a node's artifact daemon (Kubernetes runtime, node-local artifacts; see --help)`;

/**
 * `jetbridge web [flags]`: run a web node; `jetbridge artifact-daemon [flags]`: run a node's artifact daemon
 * (the chart's DaemonSet runs it from the same image). Exit codes: 0 clean stop, 1 failure, 2 bad configuration.
 */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`Usage: jetbridge <command>\n\n${COMMANDS}\n\n${helpText()}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${JETBRIDGE_VERSION}\n`);
    return 0;
  }
  if (command === 'artifact-daemon') {
    // Loaded only here: a web node never runs it.
    const { runArtifactDaemon } = await import('@jetbridge/artifact-daemon');
    return runArtifactDaemon(rest);
  }
  if (command !== 'web') {
    process.stderr.write(`error: unknown command '${command}' (try: jetbridge --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }

  let config;
  try {
    config = parseWebConfig(rest, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const server = await startJetBridge(config);
  const loginLine = server.users.generated
    ? `fly -t local login -c ${config.externalUrl} -u ${server.users.generated.username} -p ${server.users.generated.password}`
    : `fly -t local login -c ${config.externalUrl} -u <user> -p <password>`;
  process.stderr.write(`\nJetBridge is running at ${config.externalUrl}\nLog in with:\n  ${loginLine}\n\n`);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        process.stderr.write(`received ${signal} again, exiting now\n`);
        process.exit(1);
      }
      server.ctx.logger.info({ signal }, 'shutting down');
      server.close().then(resolve, (err: unknown) => {
        server.ctx.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
