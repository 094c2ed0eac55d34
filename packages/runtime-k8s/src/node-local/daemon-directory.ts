import { ArtifactDaemonClient, type DaemonHealth } from '@jetbridge/artifact-daemon';
import type { ResolvedNodeLocalArtifacts } from './config.js';

export interface NodeHealth {
  node: string;
  /** The daemon answered /healthz: its artifacts can be read. */
  reachable: boolean;
  /** …and it takes new work (enough disk): step pods may be scheduled there. */
  ready: boolean;
  availableBytes: number;
  reason?: string;
}

/** Lists the daemons' endpoints (node → base URL) from the cluster (the DaemonSet's pods). */
export type EndpointLister = () => Promise<Map<string, string>>;

interface Clients {
  url: string;
  retrying: ArtifactDaemonClient;
  oneShot: ArtifactDaemonClient;
}

/** How long a listing of the DaemonSet's pods is reused. */
const ENDPOINTS_CACHE_MS = 5_000;

/** The artifact daemons of the cluster, one per node, and what their /healthz said lately. */
export class DaemonDirectory {
  #endpoints: Map<string, string>;
  #listedAt = 0;
  #listing: Promise<void> | undefined;
  readonly #clients = new Map<string, Clients>();
  readonly #health = new Map<string, { at: number; value: Promise<NodeHealth> }>();

  constructor(
    private readonly config: ResolvedNodeLocalArtifacts,
    private readonly lister?: EndpointLister,
  ) {
    this.#endpoints = new Map(config.daemons ?? []);
  }

  get nodes(): string[] {
    return [...this.#endpoints.keys()];
  }

  /** Re-lists the daemons' pods when discovering (at most every few seconds, or now with `force`). */
  async refreshEndpoints(force = false): Promise<void> {
    if (!this.lister || (!force && Date.now() - this.#listedAt < ENDPOINTS_CACHE_MS)) return;
    this.#listing ??= this.lister()
      .then((endpoints) => {
        this.#endpoints = endpoints;
        this.#listedAt = Date.now();
      })
      .finally(() => {
        this.#listing = undefined;
      });
    await this.#listing;
  }

  url(node: string): string {
    const url = this.#endpoints.get(node);
    if (!url) throw new Error(`no artifact daemon is known on node ${node}`);
    return url;
  }

  client(node: string, kind: 'retrying' | 'oneShot' = 'retrying'): ArtifactDaemonClient {
    const url = this.url(node);
    let clients = this.#clients.get(node);
    if (!clients || clients.url !== url) {
      const tls = this.config.tls ? { tls: this.config.tls } : {};
      clients = {
        url,
        retrying: new ArtifactDaemonClient(url, { ...tls, attempts: this.config.transferAttempts }),
        // Health probes and one-shot streams (an upload that cannot be replayed) are not retried.
        oneShot: new ArtifactDaemonClient(url, { ...tls, attempts: 1, timeoutMs: 10_000 }),
      };
      this.#clients.set(node, clients);
    }
    return clients[kind];
  }

  health(node: string): Promise<NodeHealth> {
    const cached = this.#health.get(node);
    if (cached && Date.now() - cached.at < this.config.healthCacheMs) return cached.value;
    if (!this.#endpoints.has(node)) {
      return Promise.resolve({
        node,
        reachable: false,
        ready: false,
        availableBytes: 0,
        reason: 'no artifact daemon runs there',
      });
    }
    const value = this.client(node, 'oneShot')
      .health()
      .then(
        (health: DaemonHealth): NodeHealth => ({
          node,
          reachable: true,
          ready: health.ready,
          availableBytes: health.capacity.availableBytes,
          ...(health.reason ? { reason: health.reason } : {}),
        }),
        (error: unknown): NodeHealth => ({
          node,
          reachable: false,
          ready: false,
          availableBytes: 0,
          reason: `its artifact daemon does not answer (${(error as Error).message})`,
        }),
      );
    this.#health.set(node, { at: Date.now(), value });
    return value;
  }

  async all(): Promise<NodeHealth[]> {
    await this.refreshEndpoints();
    return Promise.all(this.nodes.map((node) => this.health(node)));
  }

  /** Ready nodes, the roomiest first. */
  async ready(): Promise<NodeHealth[]> {
    return (await this.all())
      .filter((each) => each.ready)
      .sort((a, b) => b.availableBytes - a.availableBytes);
  }

  /** Forget cached answers (a transfer just failed: the next decision should look again). */
  invalidate(node?: string): void {
    if (node === undefined) this.#health.clear();
    else this.#health.delete(node);
  }
}
