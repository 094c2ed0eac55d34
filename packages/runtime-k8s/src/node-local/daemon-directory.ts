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

/** The artifact daemons of the cluster, one per node, and what their /healthz said lately. */
export class DaemonDirectory {
  readonly #clients = new Map<string, { retrying: ArtifactDaemonClient; oneShot: ArtifactDaemonClient }>();
  readonly #health = new Map<string, { at: number; value: Promise<NodeHealth> }>();

  constructor(private readonly config: ResolvedNodeLocalArtifacts) {
    for (const [node, url] of config.daemons) {
      const tls = config.tls ? { tls: config.tls } : {};
      this.#clients.set(node, {
        retrying: new ArtifactDaemonClient(url, { ...tls, attempts: config.transferAttempts }),
        // Health probes and one-shot streams (an upload that cannot be replayed) are not retried.
        oneShot: new ArtifactDaemonClient(url, { ...tls, attempts: 1, timeoutMs: 10_000 }),
      });
    }
  }

  get nodes(): string[] {
    return [...this.config.daemons.keys()];
  }

  url(node: string): string {
    const url = this.config.daemons.get(node);
    if (!url) throw new Error(`no artifact daemon is configured for node ${node}`);
    return url;
  }

  client(node: string, kind: 'retrying' | 'oneShot' = 'retrying'): ArtifactDaemonClient {
    const clients = this.#clients.get(node);
    if (!clients) throw new Error(`no artifact daemon is configured for node ${node}`);
    return clients[kind];
  }

  health(node: string): Promise<NodeHealth> {
    const cached = this.#health.get(node);
    if (cached && Date.now() - cached.at < this.config.healthCacheMs) return cached.value;
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
