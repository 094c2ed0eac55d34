// Destroys pipelines archived longer than `--destroy-archived-pipelines-after` (Concourse 8.3's pipeline
// collector, DestroyArchivedPipelines): every GC interval, each archived pipeline whose `paused_at` (set when
// it was archived) is older than the duration is destroyed as `fly destroy-pipeline` would, its jobs, builds
// and resources going with it. A duration of 0 (the default) keeps archived pipelines for ever. Several web
// nodes may collect at once: destroying a pipeline already gone deletes nothing.
import { deletePipeline, sql, type Database, type Kysely } from '@jetbridge/db';
import type { FastifyBaseLogger } from 'fastify';

export interface ArchivedPipelineCollectorOptions {
  db: Kysely<Database>;
  logger: FastifyBaseLogger;
  /** `--gc-interval`. */
  intervalMs: number;
  /** `--destroy-archived-pipelines-after`; 0 = never. */
  destroyAfterMs: number;
}

export class ArchivedPipelineCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly options: ArchivedPipelineCollectorOptions) {}

  /** Collect every GC interval; nothing to do (no timer) when archived pipelines are kept for ever. */
  start(): void {
    if (this.timer !== undefined || this.options.destroyAfterMs <= 0) return;
    this.timer = setInterval(() => {
      this.collectOnce().catch((err: unknown) =>
        this.options.logger.warn({ err }, 'destroying archived pipelines failed'),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One round; how many pipelines were destroyed. */
  collectOnce(): Promise<number> {
    this.running ??= this.collect().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async collect(): Promise<number> {
    const { db, logger, destroyAfterMs } = this.options;
    if (destroyAfterMs <= 0) return 0;
    const expired = await db
      .selectFrom('pipelines as p')
      .innerJoin('teams as t', 't.id', 'p.team_id')
      .select(['p.id', 'p.name', 't.name as team'])
      .where('p.archived', '=', true)
      .where('p.paused_at', '<', sql<Date>`now() - make_interval(secs => ${destroyAfterMs / 1000})`)
      .orderBy('p.id')
      .execute();
    for (const pipeline of expired) {
      await deletePipeline(db, pipeline.id);
      logger.info(
        { pipelineId: pipeline.id, pipeline: pipeline.name, team: pipeline.team },
        'destroyed a pipeline archived longer than --destroy-archived-pipelines-after',
      );
    }
    return expired.length;
  }
}
