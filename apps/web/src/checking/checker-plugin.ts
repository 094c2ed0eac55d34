// The app's checker and job build starter, built around its one BuildTracker: they share the credential
// manager and the runtime's resource types, and answer the pipeline API's doorbells for checks. They stop in
// `preClose`, before the tracker (registered earlier) stops the builds they run.
import { ContainerResourceTypeResolver, type ResourceTypeResolver } from '@jetbridge/exec';
import { LocalResourceTypeResolver } from '@jetbridge/resource-types';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { buildMetrics } from '../observability/build-metrics.js';
import { loggingPipelineScheduling, type PipelineScheduling } from '../api/pipeline-scheduling.js';
import { useBuildTracker } from '../builds/build-tracker-plugin.js';
import { JobBuildStarter } from '../builds/job-build-starter.js';
import { createCredentialManager, type CredentialManager } from '../creds/index.js';
import { CheckedImageVersions } from './checked-image-versions.js';
import { Checker } from './checker.js';
import { ResourceCheckingLocks } from './resource-checking-locks.js';
import { ResourceTypeChecker } from './resource-type-checker.js';

declare module '../app-context.js' {
  interface AppContext {
    /** Where `((vars))` of pipeline builds and webhook tokens come from (set by usePipelineBuilds). */
    credentials?: CredentialManager;
    /** Finds resource versions; also the scheduler's InputChecker (`requestChecks`). */
    checker?: Checker;
    /** Runs the resource steps of pipeline builds (set by usePipelineBuilds; `fly execute -j` uses it too). */
    resourceTypes?: ResourceTypeResolver;
    /** Runs `fly check-resource-type` check builds (set by usePipelineBuilds). */
    resourceTypeChecker?: ResourceTypeChecker;
    /** Starts job builds with the inputs the scheduler chose (its BuildStarter). */
    jobBuildStarter?: JobBuildStarter;
    /**
     * The scheduler's entry points once it is wired in: asked to schedule on new versions and finished
     * builds. Without it, those requests only ring `pipelineScheduling.scheduleRequested`.
     */
    jobScheduling?: {
      kick(): void;
      jobBuildFinished(jobId: number): unknown;
    };
  }
}

/** Create the checker and job build starter once, wire the check doorbells, and start checking. */
export async function usePipelineBuilds(app: FastifyInstance, ctx: AppContext): Promise<void> {
  if (ctx.checker !== undefined) return;
  const tracker = await useBuildTracker(app, ctx);
  const { config } = ctx;
  const credentials = createCredentialManager(config);
  // Pods run a resource type's image (/opt/resource) at the version its checks found; host processes run it
  // from a directory.
  const resourceTypes: ResourceTypeResolver =
    config.runtime === 'kubernetes'
      ? new ContainerResourceTypeResolver({ imageVersions: new CheckedImageVersions(ctx.backendDb) })
      : new LocalResourceTypeResolver(
          config.resourceTypesDir === undefined ? {} : { directory: config.resourceTypesDir },
        );
  const fallback = loggingPipelineScheduling(ctx.logger);
  // Whatever the scheduler wired in at the time of the call (it may come after this).
  const scheduleRequested = (reason: string): void => {
    (ctx.pipelineScheduling ?? fallback).scheduleRequested(reason);
    ctx.jobScheduling?.kick();
  };

  // One session for the resource checking locks of this node's checks, of resources and types alike.
  const checkingLocks = new ResourceCheckingLocks(
    ctx.backendPool,
    ctx.logger.child({ component: 'checker' }),
  );
  const resourceTypeChecker = new ResourceTypeChecker({
    db: ctx.backendDb,
    locks: checkingLocks,
    logger: ctx.logger.child({ component: 'checker' }),
    tracker,
    credentials,
    resourceTypes,
    defaultCheckInterval: config.resourceTypeCheckingInterval,
    defaultCheckTimeoutMs: config.globalResourceCheckTimeoutMs,
  });
  const checker = Checker.start({
    db: ctx.backendDb,
    pool: ctx.backendPool,
    locks: checkingLocks,
    logger: ctx.logger.child({ component: 'checker' }),
    tracker,
    credentials,
    resourceTypes,
    globalResources: config.enableGlobalResources,
    scanIntervalMs: config.lidarScannerIntervalMs,
    defaultCheckInterval: config.resourceCheckingInterval,
    webhookCheckInterval: config.resourceWithWebhookCheckingInterval,
    defaultCheckTimeoutMs: config.globalResourceCheckTimeoutMs,
    // Concourse's check collector runs every --gc-interval.
    collectIntervalMs: config.gcIntervalMs,
    checkRecyclePeriodMs: config.gcCheckRecyclePeriodMs,
    onNewVersions: (resource) => scheduleRequested(`new versions of resource ${resource.id}`),
    onInputChecked: (check) =>
      scheduleRequested(`input resource ${check.resourceId} of job ${check.jobId} checked`),
    onScanDone: (seconds) => buildMetrics(ctx.metrics).checkerScanDone(seconds),
    // Pipeline resource types are checked on the scanner's ticks too (their own interval and check_every).
    scanResourceTypes: () => resourceTypeChecker.scanDue(),
  });
  const jobBuildStarter = new JobBuildStarter({
    db: ctx.backendDb,
    logger: ctx.logger.child({ component: 'job-builds' }),
    tracker,
    credentials,
    resourceTypes,
    globalResources: config.enableGlobalResources,
    scheduleRequested,
    resourceScanRequested: (reason) => checker.scanSoon(reason),
    onBuildFinished: (build) => {
      if (ctx.jobScheduling)
        void Promise.resolve(ctx.jobScheduling.jobBuildFinished(build.jobId)).catch(() => undefined);
      else scheduleRequested(`build ${build.id} of job ${build.jobId} finished`);
    },
  });

  ctx.credentials = credentials;
  ctx.resourceTypes = resourceTypes;
  ctx.checker = checker;
  ctx.resourceTypeChecker = resourceTypeChecker;
  ctx.jobBuildStarter = jobBuildStarter;
  ctx.pipelineScheduling = withCheckDoorbells(checker, ctx.pipelineScheduling ?? fallback);
  app.addHook('preClose', async () => {
    await Promise.all([checker.close(), resourceTypeChecker.close()]);
    await checkingLocks.close();
  });
}

/**
 * The API's doorbells with checks answered by the checker; the rest (and scan requests too) go on to
 * `next` (the scheduler's, or the logging stand-in).
 */
export function withCheckDoorbells(checker: Checker, next: PipelineScheduling): PipelineScheduling {
  return {
    scheduleRequested: (reason) => next.scheduleRequested(reason),
    jobBuildCreated: (build) => next.jobBuildCreated(build),
    checkRequested: (check) => {
      void checker.runRequestedCheck(check);
    },
    resourceScanRequested: (reason) => {
      checker.scanSoon(reason);
      next.resourceScanRequested(reason);
    },
  };
}
