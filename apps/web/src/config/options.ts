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
  group: 'web' | 'postgres' | 'auth' | 'runtime' | 'embedded' | 'gc' | 'pipelines' | 'creds';
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
    group: 'web',
    flag: 'prometheus-bind-ip',
    env: 'CONCOURSE_PROMETHEUS_BIND_IP',
    help: 'IP to listen on to expose Prometheus metrics (with --prometheus-bind-port). Unset: /metrics is on the main port.',
  },
  {
    group: 'web',
    flag: 'prometheus-bind-port',
    env: 'CONCOURSE_PROMETHEUS_BIND_PORT',
    help: 'Port to listen on to expose Prometheus metrics at /metrics, which then leaves the main port (0 picks a free port).',
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
    help: 'Where steps run: local (host processes) or kubernetes (pods; see the --kubernetes-* options).',
  },
  {
    group: 'runtime',
    flag: 'resource-types-dir',
    env: 'JETBRIDGE_RESOURCE_TYPES_DIR',
    help: 'Directory of resource types for the local runtime, one `<type>/{check,in,out}` per type (the built-in `time` and `mock` always exist).',
  },
  // The Kubernetes runtime (`--runtime kubernetes`): the chart renders each `kubernetes.<key>` value as
  // CONCOURSE_KUBERNETES_<KEY>. Defaults repeat @jetbridge/runtime-k8s's K8S_WORKER_DEFAULTS (a test checks),
  // because this table is also read without the workspace (scripts/gen-config-reference.mjs).
  {
    group: 'runtime',
    flag: 'kubernetes-kubeconfig',
    env: 'CONCOURSE_KUBERNETES_KUBECONFIG',
    help: 'Kubeconfig file of the cluster steps run in; unset: the in-cluster service account.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-namespace',
    env: 'CONCOURSE_KUBERNETES_NAMESPACE',
    help: 'Namespace step pods run in (required with --runtime kubernetes).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-instance',
    env: 'CONCOURSE_KUBERNETES_INSTANCE',
    default: 'jetbridge',
    help: 'Value of the `jetbridge.io/instance` label of step pods, so installations sharing a namespace stay apart.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-mode',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_MODE',
    default: 'pvc',
    help: 'How artifacts move between steps: pvc (one shared ReadWriteMany claim), stream (through the web node) or node-local (an artifact daemon on every node keeps its artifacts; see the --kubernetes-artifact-daemon-* options).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-claim',
    env: 'CONCOURSE_KUBERNETES_CLAIM',
    help: 'Name of the artifact claim step pods mount (required in pvc mode).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-claim-mount-path',
    env: 'CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH',
    help: 'Where this web node has the artifact claim mounted (required in pvc mode).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-directory',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DIRECTORY',
    default: 'artifacts',
    help: 'Directory of the artifact store inside the claim (pvc mode).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-inputs',
    env: 'CONCOURSE_KUBERNETES_INPUTS',
    default: 'copy',
    help: 'How inputs reach a step in pvc mode: copy (the task may change them) or mount (read-only, no copy).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-helper-image',
    env: 'CONCOURSE_KUBERNETES_HELPER_IMAGE',
    help: 'Image holding the static jetbridge-helper binary (required with --runtime kubernetes; pin it by digest).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-helper-binary-path',
    env: 'CONCOURSE_KUBERNETES_HELPER_BINARY_PATH',
    default: '/jetbridge-helper',
    help: 'Path of the helper binary inside the helper image.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-default-task-image',
    env: 'CONCOURSE_KUBERNETES_DEFAULT_TASK_IMAGE',
    default: 'busybox:stable',
    help: 'Image of steps that name none.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-image-pull-secrets',
    env: 'CONCOURSE_KUBERNETES_IMAGE_PULL_SECRETS',
    repeatable: true,
    help: 'Secrets step pods pull their images with.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-service-account',
    env: 'CONCOURSE_KUBERNETES_SERVICE_ACCOUNT',
    help: "Service account of step pods (its token is never mounted); unset: the namespace's default.",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-allow-privileged',
    env: 'CONCOURSE_KUBERNETES_ALLOW_PRIVILEGED',
    default: 'false',
    help: 'Whether steps may run `privileged: true`; when false such steps error.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-pod-startup-timeout',
    env: 'CONCOURSE_KUBERNETES_POD_STARTUP_TIMEOUT',
    default: '5m',
    help: 'Limit for a scheduled step pod to get running: image pulls, input copies.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-pod-scheduling-timeout',
    env: 'CONCOURSE_KUBERNETES_POD_SCHEDULING_TIMEOUT',
    default: '15m',
    help: 'How long a step pod may wait for a node, saying so in the build log.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-step-cpu-request',
    env: 'CONCOURSE_KUBERNETES_STEP_CPU_REQUEST',
    default: '100m',
    help: 'CPU request of step containers (Kubernetes quantity).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-step-memory-request',
    env: 'CONCOURSE_KUBERNETES_STEP_MEMORY_REQUEST',
    default: '128Mi',
    help: 'Memory request of step containers (Kubernetes quantity).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-step-cpu-limit',
    env: 'CONCOURSE_KUBERNETES_STEP_CPU_LIMIT',
    help: "CPU limit of step containers; a step's `container_limits` wins; unset: none.",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-step-memory-limit',
    env: 'CONCOURSE_KUBERNETES_STEP_MEMORY_LIMIT',
    help: "Memory limit of step containers; a step's `container_limits` wins; unset: none.",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-tag-placement',
    env: 'CONCOURSE_KUBERNETES_TAG_PLACEMENT',
    help: 'JSON object: step tag → `{"nodeSelector": {…}, "tolerations": […]}` of its pods; a step whose tag is missing here errors.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-keep-for-hijack',
    env: 'CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK',
    default: '5m',
    help: 'How long the pod reaper keeps the pod of a finished build after its last process ended, for `fly hijack`.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-port',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT',
    default: '7780',
    help: 'Port of the per-node artifact daemon (node-local mode).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-host-path',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH',
    default: '/var/lib/jetbridge-artifacts',
    help: "Host directory holding each node's artifacts (node-local mode).",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-capability-key',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY',
    secret: true,
    help: 'Key shared with the artifact daemons, signing every capability token (node-local mode; required there; at least 32 bytes).',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-selector',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_SELECTOR',
    help: "Label selector of the artifact daemons' pods (node-local mode): each running, ready one serves its node at the node's IP and --kubernetes-artifact-daemon-port. This or --kubernetes-artifact-daemon-urls is required there.",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-namespace',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_NAMESPACE',
    help: "Namespace of the artifact daemons' pods (node-local mode, with --kubernetes-artifact-daemon-selector); unset: the step namespace.",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-urls',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS',
    help: 'JSON object: node name → URL of its artifact daemon (node-local mode), instead of finding them with --kubernetes-artifact-daemon-selector.',
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-daemon-tls-ca-cert',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT',
    help: "CA certificate file the artifact daemons' certificates are checked with (node-local mode): daemons are then reached over https. Step pods read the same CA at tls/ca.crt inside each node's host directory (the chart's DaemonSet puts it there).",
  },
  {
    group: 'runtime',
    flag: 'kubernetes-artifact-mirror-replicas',
    env: 'CONCOURSE_KUBERNETES_ARTIFACT_MIRROR_REPLICAS',
    default: '0',
    help: 'Copies of every step output kept on other nodes (node-local mode), so losing a node loses no artifact.',
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
  {
    group: 'creds',
    flag: 'kubernetes-in-cluster',
    env: 'CONCOURSE_KUBERNETES_IN_CLUSTER',
    default: 'false',
    help: 'Read `((vars))` from Kubernetes Secrets with the in-cluster service account (the Kubernetes credential manager).',
  },
  {
    group: 'creds',
    flag: 'kubernetes-config-path',
    env: 'CONCOURSE_KUBERNETES_CONFIG_PATH',
    help: 'Read `((vars))` from Kubernetes Secrets through this kubeconfig (the Kubernetes credential manager, outside the cluster).',
  },
  {
    group: 'creds',
    flag: 'kubernetes-namespace-prefix',
    env: 'CONCOURSE_KUBERNETES_NAMESPACE_PREFIX',
    default: 'concourse-',
    help: 'Prefix of the namespace per team where the Kubernetes credential manager looks: `((var))` is Secret `<pipeline>.<var>`, else `<var>`, in `<prefix><team>` (key `value`, else every key as a field).',
  },
  {
    group: 'creds',
    flag: 'secret-cache-enabled',
    env: 'CONCOURSE_SECRET_CACHE_ENABLED',
    default: 'false',
    help: 'Keep credential manager answers in memory.',
  },
  {
    group: 'creds',
    flag: 'secret-cache-duration',
    env: 'CONCOURSE_SECRET_CACHE_DURATION',
    default: '1m',
    help: 'With the secret cache: how long a found secret is reused.',
  },
  {
    group: 'creds',
    flag: 'secret-cache-duration-notfound',
    env: 'CONCOURSE_SECRET_CACHE_DURATION_NOTFOUND',
    default: '10s',
    help: 'With the secret cache: how long a "not found" answer is reused.',
  },
  {
    group: 'creds',
    flag: 'secret-cache-purge-interval',
    env: 'CONCOURSE_SECRET_CACHE_PURGE_INTERVAL',
    default: '10m',
    help: 'With the secret cache: how often expired entries are dropped.',
  },
] as const satisfies readonly OptionSpec[];

export type OptionFlag = (typeof optionSpecs)[number]['flag'];
