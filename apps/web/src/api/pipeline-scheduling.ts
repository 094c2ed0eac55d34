// Where the pipeline API hands work to the scheduler and the checker. The database is the source of truth
// (pending builds, `jobs.schedule_requested`, check builds): these calls are only doorbells so the
// in-process components react at once instead of on their next tick. Until the scheduler and checker are
// wired in, the default implementation only logs, and builds stay pending.
import type { FastifyBaseLogger } from 'fastify';
import type { AppContext } from '../app-context.js';

/** A resource version as the API receives it (`atc.Version`). */
export type RequestedVersion = Record<string, string>;

/**
 * What the pipeline API tells the scheduler and checker (Concourse does the same with `RequestSchedule`,
 * `NotifyResourceScanner` and the build tracker bus). Implementations must not throw: the API has already
 * committed its change and answers the client regardless.
 */
export interface PipelineScheduling {
  /** Jobs had `schedule_requested` bumped (config saved, pipeline/job unpaused, pin, enable/disable). */
  scheduleRequested(reason: string): void;
  /** A pending job build was created by `fly trigger-job` or `rerun-build`; the build starter runs it. */
  jobBuildCreated(build: { id: number; jobId: number; pipelineId: number; rerunOf: number | null }): void;
  /**
   * A check build (pending, no plan) was created by `fly check-resource` or a webhook: the checker plans and
   * runs it. `from` is the version to check from (null = the latest); `shallow` skips re-checking the
   * resource type images.
   */
  checkRequested(check: {
    buildId: number;
    resourceId: number;
    from: RequestedVersion | null;
    shallow: boolean;
  }): void;
  /** Resources may need checking soon (config saved, pipeline unpaused). */
  resourceScanRequested(reason: string): void;
}

declare module '../app-context.js' {
  interface AppContext {
    /**
     * The scheduler/checker doorbells. Optional until those components exist: when unset, the pipeline API
     * logs what it would have asked for.
     */
    pipelineScheduling?: PipelineScheduling;
  }
}

/** Logs each request at debug level; the stand-in until a scheduler and a checker are wired in. */
export function loggingPipelineScheduling(logger: FastifyBaseLogger): PipelineScheduling {
  const log = logger.child({ component: 'pipeline-scheduling' });
  return {
    scheduleRequested: (reason) => log.debug({ reason }, 'schedule requested (no scheduler wired in)'),
    jobBuildCreated: (build) => log.debug({ build }, 'job build created (no build starter wired in)'),
    checkRequested: (check) => log.debug({ check }, 'check requested (no checker wired in)'),
    resourceScanRequested: (reason) => log.debug({ reason }, 'resource scan requested (no scanner wired in)'),
  };
}

/**
 * The doorbells as the API areas ring them: whatever `ctx.pipelineScheduling` is at the time of the call
 * (so a scheduler wired in after the routes were registered is still reached), else the logging stand-in.
 * A doorbell that throws is logged, never turned into a failed request: the change is already committed.
 */
export function pipelineSchedulingOf(ctx: AppContext): PipelineScheduling {
  const fallback = loggingPipelineScheduling(ctx.logger);
  const ring = <K extends keyof PipelineScheduling>(
    name: K,
    ...args: Parameters<PipelineScheduling[K]>
  ): void => {
    const target = ctx.pipelineScheduling ?? fallback;
    try {
      (target[name] as (...a: Parameters<PipelineScheduling[K]>) => void)(...args);
    } catch (err) {
      ctx.logger.warn({ err, doorbell: name }, 'pipeline scheduling doorbell failed');
    }
  };
  return {
    scheduleRequested: (reason) => ring('scheduleRequested', reason),
    jobBuildCreated: (build) => ring('jobBuildCreated', build),
    checkRequested: (check) => ring('checkRequested', check),
    resourceScanRequested: (reason) => ring('resourceScanRequested', reason),
  };
}
