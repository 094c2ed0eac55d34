import path from 'node:path';
import { parseGoDuration } from '@jetbridge/plan';
import { parseCredentialSettings, type CredentialSettings } from '../creds/credentials-config.js';
import type { SecretRetryOptions } from '../creds/retrying-credential-manager.js';
import type { BuildLogRetentionLimits } from '../builds/build-log-retention.js';
import { parseByteSize } from './byte-size.js';
import { parseKubernetesSettings, type KubernetesRuntimeSettings } from './kubernetes.js';
import { optionSpecs, type OptionFlag, type OptionSpec } from './options.js';

export { parseByteSize };

/** A setting with a bad value; the message names the flag and its environment variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LocalUser {
  username: string;
  /** Plain text, or a bcrypt hash (`$2a$…`, `$2b$…`, `$2y$…`). */
  password: string;
}

export interface WebConfig {
  bindIp: string;
  bindPort: number;
  /** `--prometheus-bind-ip/-port`: /metrics on a listener of its own instead of the main port. */
  prometheus?: { ip: string; port: number };
  /** Without a trailing slash. */
  externalUrl: string;
  clusterName?: string;
  logLevel: 'debug' | 'info' | 'error' | 'fatal';
  maxRequestBodyBytes: number;
  maxArtifactUploadBytes: number;
  localUsers: LocalUser[];
  mainTeamLocalUsers: string[];
  sessionSigningKeyFile?: string;
  authDurationMs: number;
  /** Null means: start the embedded PostgreSQL. */
  postgres: null | {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  };
  /** `--api-max-conns`: size of the pool the HTTP API's handlers (and auth) use. */
  apiMaxConnections: number;
  /** `--backend-max-conns` (or the deprecated `--postgres-max-conns`): size of everything else's pool. */
  backendMaxConnections: number;
  /** Settings that still work but should change (deprecated aliases): logged once as warnings at start. */
  deprecations?: string[];
  dataDir: string;
  runtime: 'local' | 'kubernetes';
  /** The `--kubernetes-*` settings; present exactly when `runtime` is kubernetes. */
  kubernetes?: KubernetesRuntimeSettings;
  /** How often garbage collection runs. */
  gcIntervalMs: number;
  /** How long containers of finished steps stay for intercepting. */
  gcOneOffGracePeriodMs: number;
  /** How long uploads and the registered outputs of finished builds are kept. */
  gcArtifactRetentionMs: number;
  /** `--gc-check-recycle-period`: how long superseded check builds are kept. */
  gcCheckRecyclePeriodMs: number;
  /** `--destroy-archived-pipelines-after`: how long a pipeline stays archived before GC destroys it; 0 = never. */
  destroyArchivedPipelinesAfterMs: number;
  /** `--build-tracker-interval`: how often the build tracker looks for builds whose node died. */
  buildTrackerIntervalMs: number;
  /** `--default-/--max-build-logs-to-retain` and `--default-/--max-days-to-retain-build-logs` (0 = none). */
  buildLogRetention: BuildLogRetentionLimits;
  /** `--secret-retry-attempts` / `--secret-retry-interval`: lookups the credential manager could not answer. */
  secretRetry: SecretRetryOptions;
  /** `--default-task-/get-/put-timeout`: time limits of steps without `timeout`; absent = none. */
  defaultStepTimeouts: { taskMs?: number; getMs?: number; putMs?: number };
  /** Resource types of the local runtime besides the built-in ones. */
  resourceTypesDir?: string;
  /** `--local-input-mode`: the local runtime's inputs as copies (Concourse's semantics) or symlinks (faster). */
  localInputMode: 'copy' | 'symlink';
  lidarScannerIntervalMs: number;
  /** `--component-runner-interval`: the job scheduler's interval. */
  componentRunnerIntervalMs: number;
  /** Go durations, as check plans carry them. */
  resourceCheckingInterval: string;
  resourceWithWebhookCheckingInterval: string;
  /**
   * `--resource-type-checking-interval`: the interval of a resource type's checks when it sets no
   * `check_every`; raised to `resourceCheckingInterval` when less, as Concourse does.
   */
  resourceTypeCheckingInterval: string;
  globalResourceCheckTimeoutMs: number;
  enableGlobalResources: boolean;
  credentialsFile?: string;
  /** The Kubernetes credential manager and the secret cache. */
  credentials: CredentialSettings;
}

type RawValues = Map<OptionFlag, string[]>;

function specOf(flag: string): OptionSpec | undefined {
  return optionSpecs.find((s) => s.flag === flag);
}

function describe(spec: OptionSpec): string {
  return `--${spec.flag} (${spec.env})`;
}

/** Read flags (`--name value` or `--name=value`) and environment variables; flags win. */
export function readRawValues(argv: readonly string[], env: NodeJS.ProcessEnv): RawValues {
  const values: RawValues = new Map();
  for (const spec of optionSpecs) {
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      values.set(spec.flag, 'repeatable' in spec && spec.repeatable ? splitList(fromEnv) : [fromEnv]);
    }
  }
  const fromFlags = new Map<OptionFlag, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specOf(name);
    if (!spec) throw new ConfigError(`unknown flag '--${name}' (see --help)`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(`${describe(spec)} needs a value`);
    const flag = spec.flag as OptionFlag;
    const list = fromFlags.get(flag) ?? [];
    list.push(...(spec.repeatable ? splitList(value) : [value]));
    fromFlags.set(flag, list);
  }
  for (const [flag, list] of fromFlags) {
    const spec = specOf(flag);
    values.set(flag, spec?.repeatable ? list : [list[list.length - 1] ?? '']);
  }
  return values;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** Turn flags and environment into a validated configuration, or throw ConfigError naming the setting. */
export function parseWebConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): WebConfig {
  const raw = readRawValues(argv, env);
  const get = (flag: OptionFlag): string | undefined => {
    const v = raw.get(flag);
    if (v) return v[v.length - 1];
    const spec = specOf(flag);
    return spec && 'default' in spec ? (spec.default as string | undefined) : undefined;
  };
  const list = (flag: OptionFlag): string[] => raw.get(flag) ?? [];
  const fail = (flag: OptionFlag, why: string): never => {
    const spec = specOf(flag);
    throw new ConfigError(`invalid value for ${spec ? describe(spec) : flag}: ${why}`);
  };
  const port = (flag: OptionFlag, allowZero: boolean): number => {
    const text = get(flag) ?? '';
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 65535 || (!allowZero && n === 0))
      fail(flag, `'${text}' is not a port number`);
    return n;
  };
  const oneOf = <T extends string>(flag: OptionFlag, allowed: readonly T[]): T => {
    const text = get(flag) ?? '';
    if (!(allowed as readonly string[]).includes(text))
      fail(flag, `'${text}' is not one of ${allowed.join(', ')}`);
    return text as T;
  };
  const size = (flag: OptionFlag): number => {
    const text = get(flag) ?? '';
    const n = parseByteSize(text);
    if (n === undefined || n <= 0) fail(flag, `'${text}' is not a size (e.g. 10MB, 2GB)`);
    return n as number;
  };

  const bindPort = port('bind-port', true);
  const bindIp = get('bind-ip') ?? '0.0.0.0';
  const prometheusIp = get('prometheus-bind-ip');
  const prometheusPort =
    get('prometheus-bind-port') === undefined ? undefined : port('prometheus-bind-port', true);
  if ((prometheusIp === undefined) !== (prometheusPort === undefined))
    fail(
      prometheusIp === undefined ? 'prometheus-bind-ip' : 'prometheus-bind-port',
      'set both --prometheus-bind-ip and --prometheus-bind-port',
    );
  let externalUrl = get('external-url') ?? `http://localhost:${bindPort}`;
  try {
    const u = new URL(externalUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    fail('external-url', `'${externalUrl}' is not an http(s) URL`);
  }
  externalUrl = externalUrl.replace(/\/+$/, '');

  const localUsers = list('add-local-user').map((entry) => {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1)
      fail('add-local-user', 'each entry must be username:password');
    return { username: entry.slice(0, colon), password: entry.slice(colon + 1) };
  });
  const known = new Set(localUsers.map((u) => u.username));
  const mainTeamLocalUsers = list('main-team-local-user');
  for (const user of mainTeamLocalUsers) {
    if (localUsers.length > 0 && !known.has(user))
      fail('main-team-local-user', `'${user}' is not a local user added with --add-local-user`);
  }

  /** A positive Go duration in ms, or a ConfigError naming the flag. */
  const positiveDuration = (flag: OptionFlag, example: string): number => {
    let ms: number | undefined;
    try {
      ms = parseGoDuration(get(flag) ?? '');
    } catch {
      ms = undefined;
    }
    if (ms === undefined || ms <= 0) fail(flag, `'${get(flag)}' is not a duration (e.g. ${example})`);
    return ms as number;
  };
  /** A duration that may be zero (Concourse accepts `0s` where a zero means "no wait"). */
  const nonNegativeDuration = (flag: OptionFlag, example: string): number => {
    let ms: number | undefined;
    try {
      ms = parseGoDuration(get(flag) ?? '');
    } catch {
      ms = undefined;
    }
    if (ms === undefined || ms < 0) fail(flag, `'${get(flag)}' is not a duration (e.g. ${example})`);
    return ms as number;
  };
  /** A whole number ≥ 0 (Concourse's uint64 and int flags; a safe integer is plenty). */
  const count = (flag: OptionFlag): number => {
    const text = (get(flag) ?? '').trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) fail(flag, `'${get(flag)}' is not a whole number`);
    return n;
  };
  /** An optional limit: unset or 0 is none (Concourse's zero duration), else its ms. */
  const optionalLimit = (flag: OptionFlag): number | undefined => {
    if (get(flag) === undefined) return undefined;
    const ms = nonNegativeDuration(flag, '30m');
    return ms === 0 ? undefined : ms;
  };
  /** A valid duration, kept as written (check plans carry Go durations). */
  const durationText = (flag: OptionFlag, example: string): string => {
    positiveDuration(flag, example);
    return get(flag) ?? example;
  };

  /** A whole number ≥ 1 (pool sizes). */
  const positiveCount = (flag: OptionFlag): number => {
    const text = (get(flag) ?? '').trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
      fail(flag, `'${get(flag)}' is not a positive integer`);
    return n;
  };
  // Concourse's two pools. --postgres-max-conns (JetBridge's older single pool) still sizes the backend,
  // where most connections go, unless --backend-max-conns is given too.
  const apiMaxConnections = positiveCount('api-max-conns');
  const deprecations: string[] = [];
  let backendMaxConnections = positiveCount('backend-max-conns');
  if (raw.has('postgres-max-conns')) {
    const legacy = positiveCount('postgres-max-conns');
    if (raw.has('backend-max-conns')) {
      deprecations.push(
        '--postgres-max-conns (CONCOURSE_POSTGRES_MAX_CONNS) is deprecated and ignored: --backend-max-conns is set; remove it',
      );
    } else {
      backendMaxConnections = legacy;
      deprecations.push(
        `--postgres-max-conns (CONCOURSE_POSTGRES_MAX_CONNS) is deprecated: it sizes the backend pool (${legacy}); use --backend-max-conns (CONCOURSE_BACKEND_MAX_CONNS) and --api-max-conns (CONCOURSE_API_MAX_CONNS) instead`,
      );
    }
  }

  const host = get('postgres-host');
  const postgres = host
    ? {
        host,
        port: port('postgres-port', false),
        user: get('postgres-user') ?? 'postgres',
        password: get('postgres-password') ?? '',
        database: get('postgres-database') ?? 'atc',
        sslmode: oneOf('postgres-sslmode', ['disable', 'require', 'verify-ca', 'verify-full'] as const),
      }
    : null;
  if (!host) oneOf('postgres-sslmode', ['disable', 'require', 'verify-ca', 'verify-full'] as const);

  const runtime = oneOf('runtime', ['local', 'kubernetes'] as const);
  const kubernetes = parseKubernetesSettings(
    { get, list, fail, positiveDuration, port: (flag) => port(flag, false), oneOf },
    runtime,
    cwd,
  );

  const dataDirText = get('data-dir') ?? '.data';
  if (dataDirText.trim() === '') fail('data-dir', 'must not be empty');

  return {
    bindIp,
    bindPort,
    ...(prometheusIp !== undefined && prometheusPort !== undefined
      ? { prometheus: { ip: prometheusIp, port: prometheusPort } }
      : {}),
    externalUrl,
    clusterName: get('cluster-name'),
    logLevel: oneOf('log-level', ['debug', 'info', 'error', 'fatal'] as const),
    maxRequestBodyBytes: size('max-request-body-size'),
    maxArtifactUploadBytes: size('max-artifact-upload-size'),
    localUsers,
    mainTeamLocalUsers,
    sessionSigningKeyFile: get('session-signing-key'),
    authDurationMs: positiveDuration('auth-duration', '24h'),
    postgres,
    apiMaxConnections,
    backendMaxConnections,
    ...(deprecations.length > 0 ? { deprecations } : {}),
    dataDir: path.resolve(cwd, dataDirText),
    runtime,
    ...(kubernetes === undefined ? {} : { kubernetes }),
    gcIntervalMs: positiveDuration('gc-interval', '30s'),
    gcOneOffGracePeriodMs: positiveDuration('gc-one-off-grace-period', '5m'),
    gcArtifactRetentionMs: positiveDuration('gc-artifact-retention', '12h'),
    gcCheckRecyclePeriodMs: nonNegativeDuration('gc-check-recycle-period', '1m'),
    destroyArchivedPipelinesAfterMs: nonNegativeDuration('destroy-archived-pipelines-after', '720h'),
    buildTrackerIntervalMs: positiveDuration('build-tracker-interval', '10s'),
    buildLogRetention: {
      defaultBuilds: count('default-build-logs-to-retain'),
      maxBuilds: count('max-build-logs-to-retain'),
      defaultDays: count('default-days-to-retain-build-logs'),
      maxDays: count('max-days-to-retain-build-logs'),
    },
    defaultStepTimeouts: Object.fromEntries(
      (
        [
          ['taskMs', optionalLimit('default-task-timeout')],
          ['getMs', optionalLimit('default-get-timeout')],
          ['putMs', optionalLimit('default-put-timeout')],
        ] as const
      ).filter(([, ms]) => ms !== undefined),
    ),
    secretRetry: {
      attempts: count('secret-retry-attempts'),
      intervalMs: nonNegativeDuration('secret-retry-interval', '1s'),
    },
    ...optionalPath('resourceTypesDir', get('resource-types-dir'), cwd),
    localInputMode: oneOf('local-input-mode', ['copy', 'symlink'] as const),
    lidarScannerIntervalMs: positiveDuration('lidar-scanner-interval', '10s'),
    componentRunnerIntervalMs: positiveDuration('component-runner-interval', '10s'),
    resourceCheckingInterval: durationText('resource-checking-interval', '1m'),
    resourceWithWebhookCheckingInterval: durationText('resource-with-webhook-checking-interval', '1m'),
    resourceTypeCheckingInterval: atLeast(
      durationText('resource-type-checking-interval', '1m'),
      durationText('resource-checking-interval', '1m'),
    ),
    globalResourceCheckTimeoutMs: positiveDuration('global-resource-check-timeout', '1h'),
    enableGlobalResources: oneOf('enable-global-resources', ['true', 'false'] as const) === 'true',
    ...optionalPath('credentialsFile', get('credentials-file'), cwd),
    credentials: parseCredentialSettings(
      { get, list, fail, positiveDuration, port: (flag) => port(flag, false), oneOf },
      cwd,
    ),
  };
}

/** The `--help` text, generated from the option table. */
export function helpText(): string {
  const groups: Record<OptionSpec['group'], string> = {
    web: 'Web server',
    auth: 'Authentication',
    postgres: 'PostgreSQL (leave --postgres-host unset for the embedded default)',
    embedded: 'Embedded default',
    runtime: 'Runtime',
    gc: 'Garbage collection',
    pipelines: 'Pipelines: resource checking and credentials',
    creds: 'Credential managers: Kubernetes secrets and the secret cache',
  };
  const lines = [
    'Usage: jetbridge web [options]',
    '',
    'Every option can also be set by its environment variable.',
  ];
  for (const [group, title] of Object.entries(groups)) {
    lines.push('', `${title}:`);
    for (const spec of optionSpecs.filter((s) => s.group === group) as readonly OptionSpec[]) {
      const def = spec.default !== undefined ? ` (default: ${spec.default})` : '';
      lines.push(`  --${spec.flag.padEnd(26)} [$${spec.env}]`, `      ${spec.help}${def}`);
    }
  }
  return lines.join('\n');
}

/** The longer of two Go durations, as written (Concourse raises a type interval below the resource one). */
function atLeast(duration: string, floor: string): string {
  return parseGoDuration(duration) >= parseGoDuration(floor) ? duration : floor;
}

/** `{ [key]: absolute path }` for a set path option, `{}` when unset. */
function optionalPath<K extends string>(
  key: K,
  value: string | undefined,
  cwd: string,
): { [P in K]?: string } {
  if (value === undefined || value.trim() === '') return {};
  return { [key]: path.resolve(cwd, value) } as { [P in K]?: string };
}
