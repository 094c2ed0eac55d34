/**
 * Every setting of `jetbridge web`, in one table: flag, environment variable, default and help text.
 * Names follow Concourse's `concourse web` where the meaning is the same, so existing deployments carry over.
 * `--help` and the configuration reference in the README are generated from this list.
 */
export interface OptionSpec {
  /** Long flag without the leading dashes. */
  flag: string;
  env: string;
  /** Default as the user would type it; undefined means unset. */
  default?: string;
  help: string;
  /** Accepts several values (repeated flag, or comma-separated in the environment). */
  repeatable?: boolean;
  /** A secret: never echoed in logs or errors. */
  secret?: boolean;
  group: 'web' | 'postgres' | 'auth' | 'runtime' | 'embedded' | 'gc' | 'pipelines';
}

export const optionSpecs = [
  {
    group: 'web',
    flag: 'bind-ip',
    env: 'CONCOURSE_BIND_IP',
    default: '0.0.0.0',
    help: 'IP address on which to listen for HTTP traffic.',
  },
  {
    group: 'web',
    flag: 'bind-port',
    env: 'CONCOURSE_BIND_PORT',
    default: '8080',
    help: 'Port on which to listen for HTTP traffic (0 picks a free port).',
  },
  {
    group: 'web',
    flag: 'external-url',
    env: 'CONCOURSE_EXTERNAL_URL',
    help: 'URL used to reach JetBridge from outside (default: http://localhost:<bind-port>).',
  },
  {
    group: 'web',
    flag: 'cluster-name',
    env: 'CONCOURSE_CLUSTER_NAME',
    help: 'A name for this cluster, shown by the UI and /api/v1/info.',
  },
  {
    group: 'web',
    flag: 'log-level',
    env: 'CONCOURSE_LOG_LEVEL',
    default: 'info',
    help: 'Minimum level of logs to see: debug, info, error or fatal.',
  },
  {
    group: 'web',
    flag: 'max-request-body-size',
    env: 'JETBRIDGE_MAX_REQUEST_BODY_SIZE',
    default: '10MB',
    help: 'Largest JSON/YAML request body accepted (artifact uploads have their own limit).',
  },
  {
    group: 'web',
    flag: 'max-artifact-upload-size',
    env: 'JETBRIDGE_MAX_ARTIFACT_UPLOAD_SIZE',
    default: '2GB',
    help: 'Largest uncompressed size of one `fly execute -i` upload.',
  },

  {
    group: 'auth',
    flag: 'add-local-user',
    env: 'CONCOURSE_ADD_LOCAL_USER',
    repeatable: true,
    secret: true,
    help: 'List of username:password combinations for local users (password in plain text or a bcrypt hash).',
  },
  {
    group: 'auth',
    flag: 'main-team-local-user',
    env: 'CONCOURSE_MAIN_TEAM_LOCAL_USER',
    repeatable: true,
    help: 'Local users that are owners of the main (admin) team.',
  },
  {
    group: 'auth',
    flag: 'session-signing-key',
    env: 'CONCOURSE_SESSION_SIGNING_KEY',
    secret: true,
    help: 'File containing the key that signs session state and CSRF tokens (generated and stored in the database when unset).',
  },
  {
    group: 'auth',
    flag: 'auth-duration',
    env: 'CONCOURSE_AUTH_DURATION',
    default: '24h',
    help: 'Length of time for which tokens are valid (Go duration, e.g. 24h, 90m).',
  },

  {
    group: 'postgres',
    flag: 'postgres-host',
    env: 'CONCOURSE_POSTGRES_HOST',
    help: 'PostgreSQL host. When unset, JetBridge starts its embedded PostgreSQL in the data directory.',
  },
  {
    group: 'postgres',
    flag: 'postgres-port',
    env: 'CONCOURSE_POSTGRES_PORT',
    default: '5432',
    help: 'PostgreSQL port.',
  },
  {
    group: 'postgres',
    flag: 'postgres-user',
    env: 'CONCOURSE_POSTGRES_USER',
    default: 'postgres',
    help: 'PostgreSQL user.',
  },
  {
    group: 'postgres',
    flag: 'postgres-password',
    env: 'CONCOURSE_POSTGRES_PASSWORD',
    secret: true,
    help: 'PostgreSQL password.',
  },
  {
    group: 'postgres',
    flag: 'postgres-database',
    env: 'CONCOURSE_POSTGRES_DATABASE',
    default: 'atc',
    help: 'PostgreSQL database name.',
  },
  {
    group: 'postgres',
    flag: 'postgres-sslmode',
    env: 'CONCOURSE_POSTGRES_SSLMODE',
    default: 'disable',
    help: 'SSL mode: disable, require, verify-ca or verify-full.',
  },
  {
    group: 'postgres',
    flag: 'postgres-max-conns',
    env: 'CONCOURSE_POSTGRES_MAX_CONNS',
    default: '10',
    help: 'Maximum number of open PostgreSQL connections.',
  },

  {
    group: 'gc',
    flag: 'gc-interval',
    env: 'CONCOURSE_GC_INTERVAL',
    default: '30s',
    help: 'Interval on which to perform garbage collection (volumes of finished builds, expired uploads, crash leftovers).',
  },
  {
    group: 'gc',
    flag: 'gc-one-off-grace-period',
    env: 'CONCOURSE_GC_ONE_OFF_GRACE_PERIOD',
    default: '5m',
    help: 'How long the containers of a finished step stay for `fly intercept` (from the end, or from the last intercept).',
  },
  {
    group: 'gc',
    flag: 'gc-artifact-retention',
    env: 'JETBRIDGE_GC_ARTIFACT_RETENTION',
    default: '12h',
    help: 'How long a `fly execute` upload, and the outputs a finished build registered for `fly execute -o`, are kept.',
  },

  {
    group: 'embedded',
    flag: 'data-dir',
    env: 'JETBRIDGE_DATA_DIR',
    default: '.data',
    help: 'Directory for the embedded default: PostgreSQL cluster, artifacts and step working directories.',
  },

  {
    group: 'runtime',
    flag: 'runtime',
    env: 'JETBRIDGE_RUNTIME',
    default: 'local',
    help: 'Where steps run: local (host processes) or kubernetes (pods).',
  },
  {
    group: 'runtime',
    flag: 'resource-types-dir',
    env: 'JETBRIDGE_RESOURCE_TYPES_DIR',
    help: 'Directory of resource types for the local runtime, one `<type>/{check,in,out}` per type (the built-in `time` and `mock` always exist).',
  },

  {
    group: 'pipelines',
    flag: 'lidar-scanner-interval',
    env: 'CONCOURSE_LIDAR_SCANNER_INTERVAL',
    default: '10s',
    help: 'How often the checker looks for resources due for a check.',
  },
  {
    group: 'pipelines',
    flag: 'resource-checking-interval',
    env: 'CONCOURSE_RESOURCE_CHECKING_INTERVAL',
    default: '1m',
    help: 'Interval between checks of a resource without `check_every`.',
  },
  {
    group: 'pipelines',
    flag: 'resource-with-webhook-checking-interval',
    env: 'CONCOURSE_RESOURCE_WITH_WEBHOOK_CHECKING_INTERVAL',
    default: '1m',
    help: 'Interval between checks of a resource with a `webhook_token` and no `check_every` (never less than --resource-checking-interval).',
  },
  {
    group: 'pipelines',
    flag: 'global-resource-check-timeout',
    env: 'CONCOURSE_GLOBAL_RESOURCE_CHECK_TIMEOUT',
    default: '1h',
    help: 'Time limit of a check of a resource without `check_timeout`.',
  },
  {
    group: 'pipelines',
    flag: 'enable-global-resources',
    env: 'CONCOURSE_ENABLE_GLOBAL_RESOURCES',
    default: 'false',
    help: 'Resources with the same type and source share one version history (and one check), across pipelines and teams.',
  },
  {
    group: 'pipelines',
    flag: 'credentials-file',
    env: 'JETBRIDGE_CREDENTIALS_FILE',
    help: 'YAML file of secrets for `((vars))`: keys `<team>/<pipeline>/<name>` or `<team>/<name>`, re-read when it changes.',
  },
] as const satisfies readonly OptionSpec[];

export type OptionFlag = (typeof optionSpecs)[number]['flag'];
