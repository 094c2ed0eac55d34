import { CapabilityKey, type DaemonClientTls } from '@jetbridge/artifact-daemon';

/**
 * No shared storage: every node runs an artifact daemon (`@jetbridge/artifact-daemon`, a DaemonSet) over a
 * hostPath store. A step writes its outputs straight into its node's store (a hostPath subPath mount, adopted
 * by the daemon once the pod runs); its inputs are copied locally when they live on its node and fetched from
 * the holding node's daemon otherwise (helper `fetch-inputs`). Step pods must land on a node with a ready
 * daemon, and prefer the node holding most of their input bytes.
 */
export interface NodeLocalArtifactsConfig {
  mode: 'node-local';
  /** The daemons' store on every node (the chart's `artifactDaemon.hostPath`). */
  hostPath: string;
  /**
   * Node name → base URL of its daemon (`http://<node IP>:7780`), or how to find the DaemonSet's pods: their
   * node and host IP (the chart gives the daemon a hostPort), re-listed as they come and go.
   */
  daemons: Record<string, string> | { discover: DaemonDiscovery };
  /** The HMAC key shared with the daemons; signs every capability token (≥ 32 bytes). */
  capabilityKey: string | Buffer;
  /** TLS towards the daemons (the web's side); `caPathInPod` is where step pods find the CA (a mounted file). */
  tls?: DaemonClientTls & { caPathInPod?: string };
  /** Copies of every finished output on other nodes, so a node loss does not lose it. Default 0. */
  mirror?: { replicas: number };
  /** Lifetime of the tokens given to step pods and daemons. Default 30 min. */
  capabilityTtlMs?: number;
  /** How long a daemon's /healthz answer is reused. Default 2 s. */
  healthCacheMs?: number;
  /** Attempts per source of an input fetch (helper) and of the web's reads. Default 4. */
  transferAttempts?: number;
  /**
   * How often the worker renews the leases of the volumes it holds, so the daemons' TTL sweep (for orphans)
   * never takes one a long build still needs. Keep it well below the daemons' `--ttl`. Default 15 min; 0: never.
   */
  leaseRenewIntervalMs?: number;
}

/** The daemons' pods: `labelSelector` in `namespace` (default: the step pods' namespace), on `port`. */
export interface DaemonDiscovery {
  labelSelector: string;
  port: number;
  scheme?: 'http' | 'https';
  namespace?: string;
}

export interface ResolvedNodeLocalArtifacts {
  mode: 'node-local';
  hostPath: string;
  /** Fixed endpoints, or undefined with `discovery`. */
  daemons: ReadonlyMap<string, string> | undefined;
  discovery: DaemonDiscovery | undefined;
  key: CapabilityKey;
  tls: (DaemonClientTls & { caPathInPod?: string }) | undefined;
  replicas: number;
  capabilityTtlMs: number;
  healthCacheMs: number;
  transferAttempts: number;
  leaseRenewIntervalMs: number;
}

export const NODE_LOCAL_DEFAULTS = {
  replicas: 0,
  capabilityTtlMs: 30 * 60_000,
  healthCacheMs: 2_000,
  transferAttempts: 4,
  leaseRenewIntervalMs: 15 * 60_000,
};

export function resolveNodeLocal(config: NodeLocalArtifactsConfig): ResolvedNodeLocalArtifacts {
  if (!config.hostPath || !config.hostPath.startsWith('/')) {
    throw new Error(
      'K8sWorkerConfig.artifacts.hostPath must be an absolute path (the daemons’ store on each node)',
    );
  }
  const given = config.daemons ?? {};
  let daemons: Map<string, string> | undefined;
  let discovery: DaemonDiscovery | undefined;
  if ('discover' in given && typeof given.discover === 'object') {
    discovery = given.discover;
    if (!discovery.labelSelector) {
      throw new Error('K8sWorkerConfig.artifacts.daemons.discover needs a labelSelector');
    }
    if (!Number.isInteger(discovery.port) || discovery.port < 1 || discovery.port > 65535) {
      throw new Error(
        `K8sWorkerConfig.artifacts.daemons.discover.port must be a port number (got ${discovery.port})`,
      );
    }
  } else {
    daemons = new Map(Object.entries(given as Record<string, string>));
    if (daemons.size === 0) {
      throw new Error('K8sWorkerConfig.artifacts.daemons must name at least one node’s daemon');
    }
    for (const [node, url] of daemons) {
      if (!/^https?:\/\//.test(url)) {
        throw new Error(`artifact daemon of node ${node}: ${url} is not an http(s) URL`);
      }
    }
  }
  let key: CapabilityKey;
  try {
    key = new CapabilityKey(config.capabilityKey);
  } catch (error) {
    throw new Error(`K8sWorkerConfig.artifacts.capabilityKey: ${(error as Error).message}`);
  }
  const replicas = config.mirror?.replicas ?? NODE_LOCAL_DEFAULTS.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`K8sWorkerConfig.artifacts.mirror.replicas must be a whole number (got ${replicas})`);
  }
  return {
    mode: 'node-local',
    hostPath: config.hostPath.replace(/\/+$/, '') || '/',
    daemons,
    discovery,
    key,
    tls: config.tls,
    replicas,
    capabilityTtlMs: config.capabilityTtlMs ?? NODE_LOCAL_DEFAULTS.capabilityTtlMs,
    healthCacheMs: config.healthCacheMs ?? NODE_LOCAL_DEFAULTS.healthCacheMs,
    transferAttempts: config.transferAttempts ?? NODE_LOCAL_DEFAULTS.transferAttempts,
    leaseRenewIntervalMs: config.leaseRenewIntervalMs ?? NODE_LOCAL_DEFAULTS.leaseRenewIntervalMs,
  };
}
