// Reaps old build logs every GC interval (Concourse's build log collector): for each unpaused job of each
// unpaused pipeline, the events of the builds its retention policy lets go are deleted; the build rows stay,
// with `reap_time` set, so history and scheduling are untouched. With several web nodes, one reaps a job at a
// time (a transaction-scoped advisory lock per job; the others skip it), one connection at a time.
import { PeriodicReaping } from '@jetbridge/artifact-store';
import {
  listLogReapableJobs,
  listUnreapedJobBuilds,
  reapJobBuildLogs,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { FastifyBaseLogger } from 'fastify';
import {
  decideReaping,
  effectiveRetention,
  NO_RETENTION_LIMITS,
  type BuildLogRetentionLimits,
} from './build-log-retention.js';

export interface BuildLogReaperOptions {
  db: Kysely<Database>;
  logger: FastifyBaseLogger;
  /** `--gc-interval`. */
  intervalMs: number;
  limits?: BuildLogRetentionLimits;
}

export class BuildLogReaper {
  private readonly loop: PeriodicReaping<{ failures: []; reaped: number }>;

  constructor(private readonly options: BuildLogReaperOptions) {
    this.loop = new PeriodicReaping(async () => ({ failures: [], reaped: await this.reapAll() }), {
      onError: (err) => options.logger.warn({ err }, 'build log reaping failed'),
    });
  }

  start(): void {
    this.loop.start(this.options.intervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round over every job; how many builds lost their logs (0 when another node is reaping). */
  async reapOnce(): Promise<number> {
    return (await this.loop.runOnce()).reaped;
  }

  private async reapAll(): Promise<number> {
    const { db, logger } = this.options;
    let total = 0;
    for (const job of await listLogReapableJobs(db)) {
      const retention = effectiveRetention(job.config, this.options.limits ?? NO_RETENTION_LIMITS);
      if (retention.builds === 0 && retention.days === 0) continue;
      try {
        const builds = await listUnreapedJobBuilds(db, job.id, job.firstLoggedBuildId);
        const decision = decideReaping(builds, retention, new Date());
        if (decision.reap.length === 0) continue;
        // Undefined: another node is reaping this job right now (its decision is the same).
        const reaped = await reapJobBuildLogs(db, job.id, decision.reap, decision.firstLoggedBuildId);
        if (reaped === undefined || reaped === 0) continue;
        total += reaped;
        logger.info({ jobId: job.id, job: job.name, builds: decision.reap, retention }, 'reaped build logs');
      } catch (err) {
        logger.warn({ err, jobId: job.id }, 'failed to reap the build logs of a job');
      }
    }
    return total;
  }
}
