// Destroys pipelines archived longer than `--destroy-archived-pipelines-after` (Concourse 8.3's pipeline
// collector, DestroyArchivedPipelines): every GC interval, each archived pipeline whose `paused_at` (set when
// it was archived) is older than the duration is destroyed as `fly destroy-pipeline` would, its jobs, builds
// and resources going with it. A duration of 0 (the default) keeps archived pipelines for ever. Several web
// nodes may collect at once: destroying a pipeline already gone deletes nothing.
import { PeriodicReaping } from '@jetbridge/artifact-store';
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
  private readonly loop: PeriodicReaping<{ failures: []; destroyed: number }>;

  constructor(private readonly options: ArchivedPipelineCollectorOptions) {
    this.loop = new PeriodicReaping(async () => ({ failures: [], destroyed: await this.collect() }), {
      onError: (err) => options.logger.warn({ err }, 'destroying archived pipelines failed'),
    });
  }

  /** Collect every GC interval; nothing to do (no timer) when archived pipelines are kept for ever. */
  start(): void {
    if (this.options.destroyAfterMs > 0) this.loop.start(this.options.intervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round; how many pipelines were destroyed. */
  async collectOnce(): Promise<number> {
    return (await this.loop.runOnce()).destroyed;
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
