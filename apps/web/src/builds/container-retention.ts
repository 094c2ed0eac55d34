// Containers of finished steps stay for a while so `fly intercept` works right after a step or build ends
// (Concourse keeps one-off build containers about 5 minutes, and a hijacked one 5 minutes after the last
// hijack). Each kept container is destroyed when its time is up, or when the node shuts down.
import type { Container } from '@jetbridge/runtime';
import type { FastifyBaseLogger } from 'fastify';

export class ContainerRetention {
  private readonly kept = new Map<string, { container: Container; timer: NodeJS.Timeout }>();

  constructor(
    private readonly retentionMs: number,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /** Keep a container a step is done with; destroy it after the retention period. */
  keep(container: Container): void {
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

  /** Destroy every kept container now (shutdown). */
  async destroyAll(): Promise<void> {
    const entries = [...this.kept.keys()];
    await Promise.all(entries.map((handle) => this.expire(handle)));
  }

  private expireLater(handle: string): NodeJS.Timeout {
    const timer = setTimeout(() => void this.expire(handle), this.retentionMs);
    timer.unref();
    return timer;
  }

  private async expire(handle: string): Promise<void> {
    const entry = this.kept.get(handle);
    if (!entry) return;
    this.kept.delete(handle);
    entry.timer.close();
    try {
      await entry.container.destroy();
    } catch (err) {
      this.logger.warn({ err, handle }, 'failed to destroy a finished step container');
    }
  }
}
