// The job scheduler for end-to-end tests of a server that has not wired one in itself: a JobScheduler from
// @jetbridge/scheduler around the server's own build starter and checker, rung by the same doorbells the
// server would ring. When the server has a scheduler (`ctx.jobScheduling`), that one is used as it is.
import type { RunningJetBridge } from '../src/server.js';

export async function ensureJobScheduler(server: RunningJetBridge): Promise<{ stop(): Promise<void> }> {
  const { ctx } = server;
  if (ctx.jobScheduling !== undefined) return { stop: async () => undefined };
  const starter = ctx.jobBuildStarter;
  const checker = ctx.checker;
  const doorbells = ctx.pipelineScheduling;
  if (starter === undefined || checker === undefined || doorbells === undefined) {
    throw new Error('the server runs no job build starter and checker');
  }
  const { JobScheduler } = await import('@jetbridge/scheduler');
  const scheduler = new JobScheduler({
    db: ctx.db,
    starter,
    inputChecker: checker,
    logger: ctx.logger.child({ component: 'scheduler' }),
    intervalMs: 500,
  });
  ctx.jobScheduling = scheduler;
  ctx.pipelineScheduling = {
    ...doorbells,
    scheduleRequested: (reason) => {
      doorbells.scheduleRequested(reason);
      scheduler.kick();
    },
    jobBuildCreated: (build) => {
      doorbells.jobBuildCreated(build);
      void scheduler.scheduleJob(build.jobId).catch(() => undefined);
    },
  };
  scheduler.start();
  return {
    stop: async () => {
      await scheduler.stop();
      if (ctx.jobScheduling === scheduler) delete ctx.jobScheduling;
      ctx.pipelineScheduling = doorbells;
    },
  };
}
