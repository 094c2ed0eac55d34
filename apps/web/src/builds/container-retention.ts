// Containers of finished steps stay for a while so `fly intercept` works right after a step or build ends
// (Concourse keeps one-off build containers about 5 minutes, and a hijacked one 5 minutes after the last
// hijack). Each kept container is destroyed when its time is up (`--gc-one-off-grace-period`), or when the
// node shuts down; a build's volumes stay while any of its containers does (see DatabaseArtifactRegistry).
import type { Container } from '@jetbridge/runtime';
import type { FastifyBaseLogger } from 'fastify';

export class ContainerRetention {
  private readonly kept = new Map<string, { container: Container; timer: NodeJS.Timeout }>();
  /** Destructions under way, so that shutdown waits for those a timer started too. */
  private readonly destroying = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly retentionMs: number,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /** Keep a container a step is done with; destroy it after the retention period. */
  keep(container: Container): void {
    if (this.closed) {
      // A step that outlived shutdown's grace period: nothing is kept any more.
      this.trackDestruction(container);
      return;
    }
    this.kept.get(container.handle)?.timer.close();
    this.kept.set(container.handle, { container, timer: this.expireLater(container.handle) });
  }

  /** Someone is using the container (hijack): restart its retention period. */
  touch(handle: string): void {
    const entry = this.kept.get(handle);
    if (!entry) return;
    entry.timer.close();
    entry.timer = this.expireLater(handle);
  }

  /** Destroy every kept container now, and those handed over later (shutdown); waits for all of them. */
  async destroyAll(): Promise<void> {
    this.closed = true;
    for (const handle of [...this.kept.keys()]) this.expire(handle);
    while (this.destroying.size > 0) await Promise.all([...this.destroying]);
  }

  private expireLater(handle: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(handle), this.retentionMs);
    timer.unref();
    return timer;
  }

  private expire(handle: string): void {
    const entry = this.kept.get(handle);
    if (!entry) return;
    this.kept.delete(handle);
    entry.timer.close();
    this.trackDestruction(entry.container);
  }

  private trackDestruction(container: Container): void {
    const destruction = container.destroy().catch((err: unknown) => {
      this.logger.warn({ err, handle: container.handle }, 'failed to destroy a finished step container');
    });
    this.destroying.add(destruction);
    void destruction.finally(() => this.destroying.delete(destruction));
  }
}
