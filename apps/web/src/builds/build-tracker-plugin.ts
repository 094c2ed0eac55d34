// The app's one BuildTracker, shared by the build, event, artifact and container areas. It starts with the
// first area that needs it and stops in `preClose`: running builds are stopped and their final events
// stored while requests still drain and before the database and worker close (server.ts closes the app
// before them).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { buildMetrics } from '../observability/build-metrics.js';
import { BuildLogReaper } from './build-log-reaper.js';
import { BuildTracker } from './build-tracker.js';

export async function useBuildTracker(app: FastifyInstance, ctx: AppContext): Promise<BuildTracker> {
  if (app.hasDecorator('buildTracker')) return app.buildTracker;
  const tracker = await BuildTracker.start({
    // Builds run on the backend pool; their event streams are read for HTTP clients, on the API's.
    db: ctx.backendDb,
    pool: ctx.backendPool,
    eventReadDb: ctx.db,
    worker: ctx.worker,
    logger: ctx.logger.child({ component: 'build-tracker' }),
    nodeName: ctx.nodeName,
    externalUrl: ctx.config.externalUrl,
    containerRetentionMs: ctx.config.gcOneOffGracePeriodMs,
    orphanSweepMs: ctx.config.buildTrackerIntervalMs,
    // Pods outlive a killed node, so another node can go on with its builds: their steps are recorded.
    journalSteps: ctx.config.runtime === 'kubernetes',
    defaultStepTimeouts: ctx.config.defaultStepTimeouts,
    metrics: buildMetrics(ctx.metrics),
    ...(ctx.takeOverOrphan ? { takeOverOrphan: ctx.takeOverOrphan } : {}),
  });
  app.decorate('buildTracker', tracker);
  // Old job builds' logs go with the build_log_retention of their jobs (its own loop, beside the tracker).
  const reaper = new BuildLogReaper({
    db: ctx.backendDb,
    logger: ctx.logger.child({ component: 'build-log-reaper' }),
    intervalMs: ctx.config.gcIntervalMs,
    limits: ctx.config.buildLogRetention,
  });
  reaper.start();
  app.addHook('preClose', async () => {
    await reaper.stop();
    await tracker.shutdown();
  });
  return tracker;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs this node's builds; see useBuildTracker. */
    buildTracker: BuildTracker;
  }
}
