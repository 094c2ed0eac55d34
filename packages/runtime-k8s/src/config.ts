import type { ArtifactStore } from '@jetbridge/artifact-store';
import type { ContainerMetadata } from '@jetbridge/runtime';
import type { Registry } from 'prom-client';
import type { KubeConfigLike } from './kube/kube-api.js';
import type { Toleration } from './kube/pod-types.js';
import {
  resolveNodeLocal,
  type NodeLocalArtifactsConfig,
  type ResolvedNodeLocalArtifacts,
} from './node-local/config.js';
import type { Logger } from './logger.js';

/**
 * Artifacts on one shared ReadWriteMany claim, mounted by the web (its `claimMountPath`) and by step pods.
 * Volumes are artifact-store artifacts under `<claimMountPath>/<directory>`; a step writes its outputs straight
 * into `<directory>/data/<handle>` (a subPath mount), and its inputs are copied into its workspace by the
 * helper (or, with `inputs: 'mount'`, mounted read-only in place: no copy, but the task cannot change them).
 */
export interface PvcArtifactsConfig {
  mode: 'pvc';
  claimName: string;
  /** Where the web process has the claim mounted (in tests: the test server's `claimDir()`). */
  claimMountPath: string;
  /** The artifact store's root inside the claim. Default `artifacts`. */
  directory?: string;
  /** Default `copy`. */
  inputs?: 'copy' | 'mount';
}

/**
 * No shared storage: a step's outputs are streamed out of its pod through exec (the helper's tar-out) into
 * the web's own artifact store (`K8sWorkerConfig.artifactStore`, required in this mode) each time one of its
 * processes ends, and its inputs are streamed from there into the pod (the helper's tar-in) before the step
 * runs. Step pods get emptyDir workspaces; the web needs no volume shared with them.
 */
export interface StreamArtifactsConfig {
  mode: 'stream';
  /** Inputs streamed into a pod at the same time. Default 4. */
  parallelTransfers?: number;
  /** Attempts of one transfer whose exec connection dropped (the transfer starts over). Default 3. */
  transferAttempts?: number;
  /**
   * Largest uncompressed tar (headers included) of one output collected into the web's store: collecting a
   * bigger one stops and errors the step, so a step cannot fill the web's disk. 0: no limit. Default 10 GiB.
   */
  maxOutputBytes?: number;
}

/**
 * Where artifacts live: `pvc` (one shared ReadWriteMany claim), `stream` (the web's store, via exec) or
 * `node-local` (each node's artifact daemon; see src/node-local/).
 */
export type ArtifactsConfig = PvcArtifactsConfig | StreamArtifactsConfig | NodeLocalArtifactsConfig;

export interface ResourceQuantities {
  cpu?: string;
  memory?: string;
}

/** Node selection for a step `tag`. */
export interface Placement {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

/** Something the build log should say about a container that is not output of a process. */
export interface ContainerNotice {
  handle: string;
  metadata: ContainerMetadata;
  podName: string;
  message: string;
}

export interface K8sWorkerConfig {
  /**
   * Credentials and the API server: a loaded client-node `KubeConfig` (or anything with the same two methods).
   * Without it, `kubeconfigPath` is loaded, and without that the in-cluster service account.
   */
  kubeConfig?: KubeConfigLike;
  kubeconfigPath?: string;
  /** Namespace step pods run in; one namespace-wide watch covers them all. */
  namespace: string;
  /** Value of the `jetbridge.io/instance` label: JetBridge installations sharing a namespace stay apart. Default `jetbridge`. */
  instance?: string;
  /** Worker name (`fly workers`). Default `k8s-<namespace>`. */
  name?: string;
  artifacts: ArtifactsConfig;
  /**
   * The web's artifact store. pvc mode: when it is rooted on the claim already (shares its registry), else the
   * worker opens its own there. stream mode: required — volumes live in it.
   */
  artifactStore?: ArtifactStore;
  /** The image holding the static helper binary; pin it by digest in production. */
  helperImage: string;
  /** Path of the helper binary inside `helperImage`. Default `/jetbridge-helper`. */
  helperBinaryPath?: string;
  /** Image of steps that name none. Default `busybox:stable`. */
  defaultImage?: string;
  /** Resources of every step container; step `container_limits` override them. Default requests cpu 100m, memory 128Mi. */
  resources?: { requests?: ResourceQuantities; limits?: ResourceQuantities };
  /** Limit for a scheduled pod to get its main container running (pulls, input copies). Default 5 minutes. */
  podStartTimeoutMs?: number;
  /** How long a pod may wait for a node (Unschedulable), saying so in the build log. Default 15 minutes. */
  schedulingTimeoutMs?: number;
  /** The reaper keeps a pod this long after its last process ended, for `fly hijack`. Default 5 minutes. */
  keepForHijackMs?: number;
  /**
   * How long an API call failing for the server's sake (429, 5xx, connection lost) is retried (0: never).
   * Default 30 s, or JETBRIDGE_KUBE_API_RETRY_BUDGET_MS when set (kube/retry-policy.ts).
   */
  apiRetryBudgetMs?: number;
  imagePullSecrets?: string[];
  /** Service account of step pods (its token is never mounted). Default: the namespace's default. */
  serviceAccountName?: string;
  /** Whether steps may run `privileged: true`; when not, such a step errors. Default false. */
  allowPrivileged?: boolean;
  /** Step tag → node selector and tolerations. A step with a tag missing here errors. */
  placement?: Record<string, Placement>;
  /**
   * Capabilities of step containers: all are dropped, these added back. Default: what package managers and
   * builds need as root (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE).
   */
  capabilities?: string[];
  /** Grace between SIGTERM and SIGKILL when a pod is deleted. Default 10. */
  terminationGracePeriodSeconds?: number;
  /** How long `signal('terminate')` waits before SIGKILL. Default 10 s, like Concourse's step abort. */
  terminateGraceMs?: number;
  /** Full pod re-list period. Default 60 s. */
  resyncIntervalMs?: number;
  /** Server-side watch timeout. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** A GET of a pod being waited for this often, whatever the watch says. Default 2 s. */
  podPollIntervalMs?: number;
  /** prom-client registry for the runtime's metrics. */
  metrics?: Registry;
  logger?: Logger;
  /** Build-log messages about a container (waiting for a node…). */
  onNotice?: (notice: ContainerNotice) => void;
  /** The worker version `fly workers` checks. Default `2.5`. */
  version?: string;
}

export const DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'NET_BIND_SERVICE',
];

/** Every default in one place (the web's configuration reference reads them from here). */
export const K8S_WORKER_DEFAULTS = {
  instance: 'jetbridge',
  helperBinaryPath: '/jetbridge-helper',
  defaultImage: 'busybox:stable',
  artifactsDirectory: 'artifacts',
  inputs: 'copy' as const,
  parallelTransfers: 4,
  transferAttempts: 3,
  maxOutputBytes: 10 * 1024 ** 3,
  resources: { requests: { cpu: '100m', memory: '128Mi' } as ResourceQuantities },
  podStartTimeoutMs: 5 * 60_000,
  schedulingTimeoutMs: 15 * 60_000,
  keepForHijackMs: 5 * 60_000,
  terminationGracePeriodSeconds: 10,
  terminateGraceMs: 10_000,
  resyncIntervalMs: 60_000,
  watchTimeoutSeconds: 300,
  podPollIntervalMs: 2_000,
  version: '2.5',
};

/** pvc mode with its defaults applied. */
export interface ResolvedPvcArtifacts {
  mode: 'pvc';
  claimName: string;
  claimMountPath: string;
  directory: string;
  inputs: 'copy' | 'mount';
}

/** stream mode with its defaults applied. */
export interface ResolvedStreamArtifacts {
  mode: 'stream';
  parallelTransfers: number;
  transferAttempts: number;
  /** 0: no limit. */
  maxOutputBytes: number;
}

/** The configuration with every default applied. */
export interface ResolvedK8sConfig {
  namespace: string;
  instance: string;
  name: string;
  artifacts: ResolvedPvcArtifacts | ResolvedStreamArtifacts | ResolvedNodeLocalArtifacts;
  helperImage: string;
  helperBinaryPath: string;
  defaultImage: string;
  resources: { requests: ResourceQuantities; limits: ResourceQuantities };
  podStartTimeoutMs: number;
  schedulingTimeoutMs: number;
  keepForHijackMs: number;
  imagePullSecrets: string[];
  serviceAccountName: string | undefined;
  allowPrivileged: boolean;
  placement: Record<string, Placement>;
  capabilities: string[];
  terminationGracePeriodSeconds: number;
  terminateGraceMs: number;
  resyncIntervalMs: number;
  watchTimeoutSeconds: number;
  podPollIntervalMs: number;
  version: string;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`K8sWorkerConfig.artifacts.${name} must be a positive integer (got ${value})`);
  }
  return value;
}

/** A byte count, 0 meaning no limit. */
function byteLimit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(
      `K8sWorkerConfig.artifacts.${name} must be a whole number of bytes, 0 for none (got ${value})`,
    );
  }
  return value;
}

function resolveArtifacts(config: K8sWorkerConfig): ResolvedK8sConfig['artifacts'] {
  const artifacts = config.artifacts;
  if (artifacts?.mode === 'stream') {
    if (!config.artifactStore) {
      throw new Error(
        "K8sWorkerConfig.artifactStore is required in artifact mode 'stream' (volumes live in it)",
      );
    }
    return {
      mode: 'stream',
      parallelTransfers: positiveInteger(
        artifacts.parallelTransfers,
        K8S_WORKER_DEFAULTS.parallelTransfers,
        'parallelTransfers',
      ),
      transferAttempts: positiveInteger(
        artifacts.transferAttempts,
        K8S_WORKER_DEFAULTS.transferAttempts,
        'transferAttempts',
      ),
      maxOutputBytes: byteLimit(
        artifacts.maxOutputBytes,
        K8S_WORKER_DEFAULTS.maxOutputBytes,
        'maxOutputBytes',
      ),
    };
  }
  if (artifacts?.mode === 'node-local') return resolveNodeLocal(artifacts);
  if (artifacts?.mode !== 'pvc') {
    throw new Error("K8sWorkerConfig.artifacts.mode must be 'pvc', 'stream' or 'node-local'");
  }
  if (!artifacts.claimName || !artifacts.claimMountPath) {
    throw new Error('K8sWorkerConfig.artifacts needs claimName and claimMountPath');
  }
  const directory = (artifacts.directory ?? K8S_WORKER_DEFAULTS.artifactsDirectory).replace(/^\/+|\/+$/g, '');
  if (directory.split('/').includes('..')) throw new Error('artifacts.directory must stay inside the claim');
  return {
    mode: 'pvc',
    claimName: artifacts.claimName,
    claimMountPath: artifacts.claimMountPath,
    directory,
    inputs: artifacts.inputs ?? K8S_WORKER_DEFAULTS.inputs,
  };
}

export function resolveConfig(config: K8sWorkerConfig): ResolvedK8sConfig {
  if (!config.namespace) throw new Error('K8sWorkerConfig.namespace is required');
  const artifacts = resolveArtifacts(config);
  if (!config.helperImage) throw new Error('K8sWorkerConfig.helperImage is required');
  const instance = config.instance ?? K8S_WORKER_DEFAULTS.instance;
  if (!LABEL_VALUE.test(instance) || instance.length > 63) {
    throw new Error(`K8sWorkerConfig.instance ${JSON.stringify(instance)} is not a valid label value`);
  }
  return {
    namespace: config.namespace,
    instance,
    name: config.name ?? `k8s-${config.namespace}`,
    artifacts,
    helperImage: config.helperImage,
    helperBinaryPath: config.helperBinaryPath ?? K8S_WORKER_DEFAULTS.helperBinaryPath,
    defaultImage: config.defaultImage ?? K8S_WORKER_DEFAULTS.defaultImage,
    resources: {
      requests: config.resources?.requests ?? K8S_WORKER_DEFAULTS.resources.requests,
      limits: config.resources?.limits ?? {},
    },
    podStartTimeoutMs: config.podStartTimeoutMs ?? K8S_WORKER_DEFAULTS.podStartTimeoutMs,
    schedulingTimeoutMs: config.schedulingTimeoutMs ?? K8S_WORKER_DEFAULTS.schedulingTimeoutMs,
    keepForHijackMs: config.keepForHijackMs ?? K8S_WORKER_DEFAULTS.keepForHijackMs,
    imagePullSecrets: config.imagePullSecrets ?? [],
    serviceAccountName: config.serviceAccountName,
    allowPrivileged: config.allowPrivileged ?? false,
    placement: config.placement ?? {},
    capabilities: config.capabilities ?? DEFAULT_CAPABILITIES,
    terminationGracePeriodSeconds:
      config.terminationGracePeriodSeconds ?? K8S_WORKER_DEFAULTS.terminationGracePeriodSeconds,
    terminateGraceMs: config.terminateGraceMs ?? K8S_WORKER_DEFAULTS.terminateGraceMs,
    resyncIntervalMs: config.resyncIntervalMs ?? K8S_WORKER_DEFAULTS.resyncIntervalMs,
    watchTimeoutSeconds: config.watchTimeoutSeconds ?? K8S_WORKER_DEFAULTS.watchTimeoutSeconds,
    podPollIntervalMs: config.podPollIntervalMs ?? K8S_WORKER_DEFAULTS.podPollIntervalMs,
    version: config.version ?? K8S_WORKER_DEFAULTS.version,
  };
}
