// The web node's job scheduler (packages/scheduler): one per node, started with the server, looking for due
// jobs every interval and at once when the API rings (config saved, trigger, pin, unpause…). Its doorbells
// join `ctx.pipelineScheduling` next to whatever is there already (the checker's), so installation order
// does not matter.
import { JobScheduler, type BuildStarter, type InputChecker } from '@jetbridge/scheduler';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { loggingPipelineScheduling } from '../api/pipeline-scheduling.js';
import { buildMetrics } from '../observability/build-metrics.js';
import { LoggingBuildStarter } from './logging-build-starter.js';

export interface JobSchedulingOptions {
  /** Plans and runs the builds the scheduler starts; a logging stand-in by default. */
  starter?: BuildStarter;
  /** Checks inputs before builds take their versions (see InputChecker); none by default. */
  inputChecker?: InputChecker;
  /** Concourse's `--component-runner-interval`; 10 s by default. */
  intervalMs?: number;
}

/** Create, wire and start the scheduler. Stop it (`scheduler.stop()`) before the build tracker shuts down. */
export async function useJobScheduling(
  app: FastifyInstance,
  ctx: AppContext,
  options: JobSchedulingOptions = {},
): Promise<JobScheduler> {
  if (app.hasDecorator('jobScheduler')) return app.jobScheduler;
  const logger = ctx.logger.child({ component: 'scheduler' });
  const metrics = buildMetrics(ctx.metrics);
  const starter =
    options.starter ??
    new LoggingBuildStarter(logger, (buildId) => app.buildTracker.abort(buildId, { force: false }));
  const scheduler = new JobScheduler({
    db: ctx.backendDb,
    starter,
    logger,
    ...(options.inputChecker ? { inputChecker: options.inputChecker } : {}),
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    onTickDone: (seconds) => metrics.schedulerTickDone(seconds),
  });
  app.decorate('jobScheduler', scheduler);

  const others = ctx.pipelineScheduling ?? loggingPipelineScheduling(ctx.logger);
  ctx.pipelineScheduling = {
    ...others,
    scheduleRequested: (reason) => {
      logger.debug({ reason }, 'schedule requested');
      scheduler.kick();
    },
    jobBuildCreated: (build) => {
      scheduler
        .scheduleJob(build.jobId)
        .catch((err: unknown) =>
          logger.warn({ err, buildId: build.id }, 'scheduling a created build failed'),
        );
    },
  };
  scheduler.start();
  return scheduler;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This node's job scheduler; see useJobScheduling. */
    jobScheduler: JobScheduler;
  }
}
