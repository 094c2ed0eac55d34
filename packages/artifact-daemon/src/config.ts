import { readFileSync } from 'node:fs';
import { GoDurationError, parseGoDuration } from '@jetbridge/plan';
import { MIN_KEY_BYTES } from './capability.js';

/** Flag → environment variable, named like the web's `--kubernetes-artifact-daemon-*` settings. */
export const DAEMON_ENV = {
  'bind-ip': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_BIND_IP',
  port: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT',
  'host-path': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH',
  'capability-key': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY',
  'capability-key-file': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY_FILE',
  'tls-cert': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CERT',
  'tls-key': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_KEY',
  'tls-ca-cert': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT',
  'require-client-cert': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_REQUIRE_CLIENT_CERT',
  ttl: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TTL',
  'min-available-bytes': 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_MIN_AVAILABLE_BYTES',
  'node-name': 'NODE_NAME',
} as const;

type Flag = keyof typeof DAEMON_ENV;

export interface DaemonConfig {
  bindIp: string;
  port: number;
  hostPath: string;
  capabilityKey: Buffer;
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer; requireClientCert: boolean };
  ttlMs: number;
  minAvailableBytes: number;
  nodeName?: string;
}

export const DAEMON_USAGE = `usage: jetbridge-artifact-daemon [artifact-daemon] [--flag=value]…

${Object.entries(DAEMON_ENV)
  .map(([flag, env]) => `  --${flag.padEnd(22)} ${env}`)
  .join('\n')}
`;

/**
 * The daemon's settings from `argv` (`--flag=value` or `--flag value`; a leading `artifact-daemon`, as the
 * Helm chart passes, is accepted) over the environment. Throws an Error naming the flag for a bad value.
 */
export function parseDaemonConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): DaemonConfig {
  const given = new Map<Flag, string>();
  const args = argv[0] === 'artifact-daemon' ? argv.slice(1) : [...argv];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match || !((match[1] ?? '') in DAEMON_ENV))
      throw new Error(`unknown argument '${arg}'\n${DAEMON_USAGE}`);
    const flag = match[1] as Flag;
    let value = match[2];
    if (value === undefined) {
      if (flag === 'require-client-cert') value = 'true';
      else {
        value = args[++i];
        if (value === undefined) throw new Error(`--${flag} needs a value`);
      }
    }
    given.set(flag, value);
  }
  const read = (flag: Flag): string | undefined => {
    const value = given.get(flag) ?? env[DAEMON_ENV[flag]];
    return value === '' ? undefined : value;
  };
  const fail = (flag: Flag, why: string): never => {
    throw new Error(`--${flag} (${DAEMON_ENV[flag]}): ${why}`);
  };
  const readFile = (flag: Flag, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      return fail(flag, `cannot read ${file}: ${(error as Error).message}`);
    }
  };

  const portText = read('port') ?? '7780';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('port', `'${portText}' is not a port number`);
  const hostPath = read('host-path') ?? fail('host-path', 'the node directory holding artifacts is required');

  const inlineKey = read('capability-key');
  const keyFile = read('capability-key-file');
  if (inlineKey && keyFile) fail('capability-key', 'give the key or a key file, not both');
  const capabilityKey = inlineKey
    ? Buffer.from(inlineKey, 'utf8')
    : keyFile
      ? Buffer.from(readFile('capability-key-file', keyFile).toString('utf8').trim(), 'utf8')
      : fail('capability-key', 'a key shared with the web is required (it signs every capability token)');
  if (capabilityKey.length < MIN_KEY_BYTES) fail('capability-key', `must be at least ${MIN_KEY_BYTES} bytes`);

  const certFile = read('tls-cert');
  const keyPath = read('tls-key');
  if ((certFile === undefined) !== (keyPath === undefined))
    fail('tls-cert', '--tls-cert and --tls-key go together');
  const caFile = read('tls-ca-cert');
  const requireClientCert =
    parseBoolean(read('require-client-cert') ?? 'false') ?? fail('require-client-cert', 'true or false');
  if (requireClientCert && (!certFile || !caFile)) {
    fail('require-client-cert', 'needs --tls-cert, --tls-key and --tls-ca-cert');
  }
  const tls =
    certFile && keyPath
      ? {
          cert: readFile('tls-cert', certFile),
          key: readFile('tls-key', keyPath),
          ...(caFile ? { ca: readFile('tls-ca-cert', caFile) } : {}),
          requireClientCert,
        }
      : undefined;

  const ttlText = read('ttl') ?? '2h';
  let ttlMs = 0;
  try {
    ttlMs = parseGoDuration(ttlText);
  } catch (error) {
    if (error instanceof GoDurationError) fail('ttl', error.message);
    throw error;
  }
  if (ttlMs <= 0) fail('ttl', 'must be positive');
  const minText = read('min-available-bytes') ?? String(64 * 1024 * 1024);
  const minAvailableBytes = Number(minText);
  if (!Number.isSafeInteger(minAvailableBytes) || minAvailableBytes < 0) {
    fail('min-available-bytes', `'${minText}' is not a byte count`);
  }
  const nodeName = read('node-name');
  return {
    bindIp: read('bind-ip') ?? '0.0.0.0',
    port,
    hostPath,
    capabilityKey,
    ...(tls ? { tls } : {}),
    ttlMs,
    minAvailableBytes,
    ...(nodeName ? { nodeName } : {}),
  };
}

function parseBoolean(text: string): boolean | undefined {
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  return undefined;
}
