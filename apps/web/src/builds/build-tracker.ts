// Runs the builds of this web node (Concourse's `atc/engine` tracker): creates one-off builds, runs their
// plans with @jetbridge/exec in the background, emits the `status` events around each run, finishes the
// build in the database, aborts on request, and ends builds whose node is gone.
//
// Restart and orphan policy (several web nodes on one database): the node running a build holds its tracking
// lock (see BuildTrackingLocks) — the build's lease, kept for as long as that node's database session lives.
// A build whose lock nobody holds has no live node running it. On the local runtime its processes died with
// that node and cannot be resumed, so it ends as `errored` with an error event saying why: at start-up for
// every such build, and every `orphanSweepMs` (Concourse's build tracker interval) for builds of other
// nodes that died meanwhile. A runtime whose steps outlive their node (Kubernetes pods) can take such a
// build over instead through `takeOverOrphan`, and hand it back once its running steps are collected
// (`resumeBuild`): it goes on here, the steps it finished replayed from its step journal (step-journal.ts). A job build ended so asks the scheduler to look at its job
// and the jobs after it, as a build finishing normally does. Builds this node is running when it shuts down end the same way (their
// processes are stopped first), so a watcher sees a final status instead of a hanging stream.
import {
  allocateBuildId,
  createStartedOneOffBuild,
  findBuild,
  finishBuild,
  isFinishedStatus,
  listAbortRequested,
  listStartedBuilds,
  markBuildAborted,
  nextBuildEventId,
  requestScheduleAfterBuildFinished,
  sql,
  type BuildRecord,
  type BuildStatus,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import {
  runBuild,
  type BuildIdentity,
  type BuildOutcome,
  type BuildRecorder,
  type Logger as ExecLogger,
  type ResourceTypeResolver,
  type VarsResolver,
} from '@jetbridge/exec';
import type { Plan } from '@jetbridge/plan';
import type { Worker } from '@jetbridge/runtime';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { BuildMeasurement, BuildMetrics, MeasuredBuild } from '../observability/build-metrics.js';
import { recordingVarsResolver } from '../runtime/recorded-var-refs.js';
import { BuildEventHub } from './build-event-hub.js';
import { BuildEventLog, type BuildEventInput } from './build-event-log.js';
import { BuildTrackingLocks } from './build-tracking-locks.js';
import { ContainerRetention } from './container-retention.js';
import { DatabaseArtifactCatalog } from './database-artifact-catalog.js';
import { DatabaseStepJournal, forgetStepResults } from './step-journal.js';

export interface BuildTrackerOptions {
  db: Kysely<Database>;
  pool: pg.Pool;
  /** Where event stream readers (HTTP clients) page `build_events` from: the API pool; `db` when unset. */
  eventReadDb?: Kysely<Database>;
  worker: Worker;
  logger: FastifyBaseLogger;
  /** Recorded as `tracked_by` on the builds this node runs. */
  nodeName: string;
  /** Given to tasks as ATC_EXTERNAL_URL. */
  externalUrl: string;
  /** Build and step metrics (observability/build-metrics.ts); none when unset. */
  metrics?: BuildMetrics;
  /** Secret values the engine hides in logs (none for one-offs yet; credential managers will add some). */
  redact?: () => readonly string[];
  /** How long containers of finished steps stay for `fly intercept`; 5 minutes by default. */
  containerRetentionMs?: number;
  /** `--default-task-/get-/put-timeout`: limits of steps without `timeout` (absent: none). */
  defaultStepTimeouts?: { taskMs?: number; getMs?: number; putMs?: number };
  /** How often to look for abort requests made on other nodes; 1 s by default. */
  abortPollMs?: number;
  /** How often to look for builds whose node died; 10 s by default, as Concourse's `--build-tracker-interval` (0 = only at start). */
  orphanSweepMs?: number;
  /**
   * Record each step's result in `build_step_results`, so that a node taking the build over after a restart
   * can go on with it (resumeBuild). Only worth it where steps outlive the node that started them (pods); off
   * by default, as on the local runtime, whose steps die with their node.
   */
  journalSteps?: boolean;
  /** How long shutdown waits for running builds to stop before finishing them regardless; 15 s by default. */
  shutdownGraceMs?: number;
  /** Watchers' poll interval for builds running elsewhere. */
  eventPollMs?: number;
  /**
   * Offered each orphaned build before it is ended, with its tracking lock held by this node: true when the
   * runtime resumed tracking it here — e.g. its pod still runs — so it must not be ended; the runtime then
   * calls `releaseLock` once that tracking ends. None on the local runtime, whose processes die with their
   * node.
   */
  takeOverOrphan?(build: BuildRecord, releaseLock: () => Promise<void>): Promise<boolean>;
}

/**
 * What a pipeline build (job or check) adds to a run: who it is beyond id/name/team, where its vars and
 * resource types come from, what its steps record, and a callback once its final status is stored.
 */
export interface PipelineBuildRun extends BuildRecorder {
  identity?: Omit<BuildIdentity, 'id' | 'name' | 'teamName'>;
  vars?: VarsResolver;
  resourceTypes?: ResourceTypeResolver;
  /** Timeout of check steps that set none, in ms (`--global-resource-check-timeout`). */
  defaultCheckTimeoutMs?: number;
  /** Called once with the final status, after it is stored. Failures are only logged. */
  onFinished?(status: BuildOutcome): void | Promise<void>;
  /** Called instead of onFinished when the run is never started (a resume that did not happen). */
  abandon?(): void;
}

/** The build could not be created because the node is shutting down. */
export class TrackerClosingError extends Error {
  readonly statusCode = 503;
  constructor() {
    super('the web node is shutting down');
    this.name = 'TrackerClosingError';
  }
}

interface RunningBuild {
  build: BuildRecord;
  log: BuildEventLog;
  abort: AbortController;
  /** Why the run is being stopped, if it is: decides the final status and the error event. */
  stopReason?: 'abort' | 'shutdown';
  /** Set once the final status is being written; later outcomes are ignored (force abort, shutdown). */
  completing?: Promise<void>;
  /** Left `started` for another node to collect (`handOver`): this node writes nothing more about it. */
  handedOver?: boolean;
  /** Resolves when the engine has returned. */
  engineDone: Promise<void>;
  pipelineRun?: PipelineBuildRun;
  measurement?: BuildMeasurement;
  /** Where its steps record their results (none unless journalSteps); a resumed build's are replayed from it. */
  journal?: DatabaseStepJournal;
  /** Taken over after a restart (`resumeBuild`): its `started` event is in its log already. */
  resumed?: boolean;
  /** Frees its tracking lock; a resumed build's lock was taken by whoever handed it over. */
  releaseLock: () => Promise<void>;
}

const SHUTDOWN_MESSAGE = 'build interrupted: the web node running it is shutting down';

export class BuildTracker {
  readonly events: BuildEventHub;
  readonly containers: ContainerRetention;
  private readonly running = new Map<number, RunningBuild>();
  private readonly locks: BuildTrackingLocks;
  private readonly catalog: DatabaseArtifactCatalog;
  private readonly execLogger: ExecLogger;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;
  private shutDown = false;
  private polling = false;

  private constructor(private readonly options: BuildTrackerOptions) {
    this.events = new BuildEventHub(options.eventReadDb ?? options.db, {
      pollIntervalMs: options.eventPollMs,
    });
    this.containers = new ContainerRetention(options.containerRetentionMs ?? 5 * 60_000, options.logger);
    this.locks = new BuildTrackingLocks(options.pool, options.logger);
    this.catalog = new DatabaseArtifactCatalog(options.db);
    // A pino logger is what the engine's Logger describes.
    this.execLogger = options.logger.child({ component: 'exec' });
  }

  /** Start tracking: end the builds nobody runs any more, then watch for abort requests and new orphans. */
  static async start(options: BuildTrackerOptions): Promise<BuildTracker> {
    const tracker = new BuildTracker(options);
    await tracker.endOrphanedBuilds();
    const abortPoll = setInterval(() => void tracker.pollAbortRequests(), options.abortPollMs ?? 1000);
    abortPoll.unref();
    tracker.timers.push(abortPoll);
    const sweepMs = options.orphanSweepMs ?? 10_000;
    if (sweepMs > 0) {
      const sweep = setInterval(() => {
        tracker
          .endOrphanedBuilds()
          .catch((err: unknown) => options.logger.warn({ err }, 'orphaned build sweep failed'));
      }, sweepMs);
      sweep.unref();
      tracker.timers.push(sweep);
    }
    return tracker;
  }

  isRunningHere(buildId: number): boolean {
    return this.running.has(buildId);
  }

  /**
   * Create a one-off build of `team` (already started, as `fly execute` expects) and run `plan` in the
   * background. Undefined when the team does not exist.
   */
  async createOneOffBuild(request: {
    teamName: string;
    plan: Plan;
    createdBy: string | null;
    /** A pipeline's one-off build (`fly execute -j`): its pipeline, and what the run takes from it. */
    pipeline?: { id: number; run: PipelineBuildRun };
    /** Where a team's one-off build (no pipeline) takes its ((vars)) from, given the team's stored name. */
    vars?: (teamName: string) => VarsResolver;
  }): Promise<BuildRecord | undefined> {
    if (this.closing) throw new TrackerClosingError();
    const { db } = this.options;
    // Lock before the row exists, so no other node's orphan sweep can take the new build for an orphan.
    const id = await allocateBuildId(db);
    await this.locks.tryAcquire(id);
    let build: BuildRecord | undefined;
    try {
      build = await createStartedOneOffBuild(db, {
        id,
        teamName: request.teamName,
        plan: request.plan as unknown as Record<string, unknown>,
        createdBy: request.createdBy,
        trackedBy: this.options.nodeName,
        ...(request.pipeline !== undefined ? { pipelineId: request.pipeline.id } : {}),
      });
    } finally {
      if (build === undefined) await this.locks.release(id);
    }
    if (build === undefined) return undefined;
    const run =
      request.pipeline?.run ??
      (request.vars !== undefined ? { vars: request.vars(build.teamName) } : undefined);
    this.startRun(build, request.plan, run);
    return build;
  }

  /**
   * Start a pending pipeline build (a job or check build someone created) with `plan` and run it here in the
   * background. Undefined when it is no longer pending or another node took it.
   */
  async startPendingBuild(
    buildId: number,
    plan: Plan,
    pipelineRun: PipelineBuildRun = {},
  ): Promise<BuildRecord | undefined> {
    if (this.closing) throw new TrackerClosingError();
    const { db } = this.options;
    if (!(await this.locks.tryAcquire(buildId))) return undefined;
    let build: BuildRecord | undefined;
    try {
      const started = await db
        .updateTable('builds')
        .set({
          status: 'started',
          start_time: sql<Date>`now()`,
          plan: JSON.stringify(plan),
          tracked_by: this.options.nodeName,
        })
        .where('id', '=', buildId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (started.numUpdatedRows > 0n) build = await findBuild(db, buildId);
    } finally {
      if (build === undefined) await this.locks.release(buildId);
    }
    if (build === undefined) return undefined;
    this.startRun(build, plan, pipelineRun);
    return build;
  }

  /**
   * Finish a pending pipeline build that will not start: `errored` with an `error` event saying why (its plan
   * could not be made, as Concourse does before a build starts), or `aborted`. False when it is no longer
   * pending or another node holds it.
   */
  async finishPendingBuild(
    buildId: number,
    status: 'errored' | 'aborted',
    message?: string,
  ): Promise<boolean> {
    if (!(await this.locks.tryAcquire(buildId))) return false;
    try {
      const build = await findBuild(this.options.db, buildId);
      if (build === undefined || build.status !== 'pending') return false;
      await this.finishStoppedBuild(buildId, status, message);
      return true;
    } finally {
      await this.locks.release(buildId);
    }
  }

  /**
   * Abort a build (`PUT /builds/:id/abort`). Running here: stop its steps (`force`: finish it as aborted at
   * once, without waiting for them). Running on a live node elsewhere: that node sees the request within its
   * poll interval. Run by nobody (orphaned): finished as aborted directly.
   */
  async abort(buildId: number, options: { force: boolean }): Promise<void> {
    const { db, logger } = this.options;
    await markBuildAborted(db, buildId);
    const run = this.running.get(buildId);
    if (run) {
      this.stopRun(run, 'abort');
      if (options.force) await this.complete(run, 'aborted');
      return;
    }
    const build = await findBuild(db, buildId);
    if (build === undefined || isFinishedStatus(build.status)) return;
    if (await this.locks.tryAcquire(buildId)) {
      try {
        logger.info({ buildId, trackedBy: build.trackedBy }, 'aborting a build no node is running');
        await this.finishStoppedBuild(buildId, 'aborted');
      } finally {
        await this.locks.release(buildId);
      }
    } else if (options.force) {
      // Its node is alive and will stop it; `force` means the status is final now (events then stop short).
      await finishBuild(db, buildId, 'aborted');
    }
  }

  /**
   * Shutdown of a node whose steps outlive it (pods): leave every running build `started`, its events stored
   * up to now, and free its tracking lock, so the next node — or a surviving replica's orphan sweep — collects
   * its steps as after a crash instead of this node ending it `errored`. Call it before the runtime lets go of
   * its containers: what the engine reports after that (steps cut off) is not written. No build can be created
   * afterwards; `shutdown` then only waits for the engine to return.
   */
  async handOver(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(
      [...this.running.values()]
        .filter((run) => run.completing === undefined && !run.handedOver)
        .map(async (run) => {
          run.handedOver = true;
          const stored = await run.log.seal(10_000);
          if (!stored)
            this.options.logger.error(
              { buildId: run.build.id },
              'some events of the build could not be stored',
            );
          await run.releaseLock();
          this.options.logger.info({ buildId: run.build.id }, 'left the build running for the next web node');
        }),
    );
  }

  /**
   * Stop every running build (their processes are killed) and finish them as errored with an error event,
   * then destroy kept containers. After this no build can be created. Builds handed over are left as they are.
   */
  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    const handedOver = [...this.running.values()].filter((run) => run.handedOver);
    const runs = [...this.running.values()].filter((run) => !run.handedOver);
    for (const run of runs) this.stopRun(run, 'shutdown');
    const grace = this.options.shutdownGraceMs ?? 15_000;
    await Promise.all(
      runs.map(async (run) => {
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = await Promise.race([
          run.engineDone.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), grace);
          }),
        ]);
        clearTimeout(timer);
        if (gaveUp)
          this.options.logger.warn(
            { buildId: run.build.id },
            'build did not stop in time; finishing it anyway',
          );
        await this.complete(run, 'errored', SHUTDOWN_MESSAGE);
      }),
    );
    await Promise.race([
      Promise.all(handedOver.map((run) => run.engineDone)),
      new Promise((resolve) => setTimeout(resolve, grace).unref()),
    ]);
    await this.containers.destroyAll();
    await this.locks.close();
  }

  /**
   * Go on with a build interrupted by a restart (its node died; step recovery collected the steps that were
   * running in pods): its plan runs again from the top here, the steps it finished — recorded in its step
   * journal — replayed without running or logging them again, the rest run as usual. `releaseLock` frees the
   * build's tracking lock, held by the caller, once it is over. Nothing is done when this node is shutting
   * down ('closing': leave the build to the next node) or the build has no plan ('cannot').
   */
  async resumeBuild(
    build: BuildRecord,
    pipelineRun: PipelineBuildRun,
    releaseLock: () => Promise<void>,
  ): Promise<'resumed' | 'closing' | 'cannot'> {
    if (this.closing) return 'closing';
    if (this.running.has(build.id) || build.plan === null) return 'cannot';
    const { db } = this.options;
    const journal = await DatabaseStepJournal.resume(db, build.id);
    const firstEventId = await nextBuildEventId(db, build.id);
    if (this.closing) return 'closing';
    this.options.logger.info(
      { buildId: build.id, replayedSteps: journal.replayedSteps },
      'resuming a build interrupted by a restart',
    );
    this.startRun(build, build.plan as unknown as Plan, pipelineRun, { journal, firstEventId, releaseLock });
    return 'resumed';
  }

  private startRun(
    build: BuildRecord,
    plan: Plan,
    pipelineRun?: PipelineBuildRun,
    resumed?: { journal: DatabaseStepJournal; firstEventId: number; releaseLock: () => Promise<void> },
  ): void {
    const { db, logger } = this.options;
    const log = new BuildEventLog(build.id, resumed?.firstEventId ?? 0, db, logger);
    const journal =
      resumed?.journal ?? (this.options.journalSteps ? DatabaseStepJournal.fresh(db, build.id) : undefined);
    this.events.register(log);
    const run: RunningBuild = {
      build,
      log,
      abort: new AbortController(),
      engineDone: Promise.resolve(),
      ...(pipelineRun === undefined ? {} : { pipelineRun }),
      measurement: this.options.metrics?.trackBuild(measuredBuild(build, pipelineRun)),
      ...(journal === undefined ? {} : { journal }),
      ...(resumed === undefined ? {} : { resumed: true }),
      releaseLock: resumed?.releaseLock ?? (() => this.locks.release(build.id)),
    };
    this.running.set(build.id, run);
    run.engineDone = this.execute(run, plan).catch((err: unknown) => {
      logger.error({ err, buildId: build.id }, 'build tracking failed');
    });
  }

  private async execute(run: RunningBuild, plan: Plan): Promise<void> {
    const { build, log } = run;
    const startTime = Math.floor((build.startTime ?? new Date()).getTime() / 1000);
    if (!run.resumed) await log.append(statusEvent('started', startTime));
    let outcome: BuildOutcome;
    const { identity, onFinished: _onFinished, vars, ...pipelineOptions } = run.pipelineRun ?? {};
    try {
      outcome = await runBuild({
        ...pipelineOptions,
        // The names of the vars it resolves are stored, so a node collecting its steps after a restart can
        // redact their values too (runtime/recovery-redaction.ts).
        ...(vars === undefined ? {} : { vars: recordingVarsResolver(this.options.db, build.id, vars) }),
        plan,
        worker: this.options.worker,
        build: { ...identity, id: build.id, name: build.name, teamName: build.teamName },
        events: {
          emit: (event) => {
            run.measurement?.event(event);
            return log.append(event);
          },
        },
        artifacts: this.catalog,
        signal: run.abort.signal,
        redact: this.options.redact?.() ?? [],
        logger: this.execLogger,
        externalUrl: this.options.externalUrl,
        defaultTaskTimeoutMs: this.options.defaultStepTimeouts?.taskMs,
        defaultGetTimeoutMs: this.options.defaultStepTimeouts?.getMs,
        defaultPutTimeoutMs: this.options.defaultStepTimeouts?.putMs,
        onContainerDone: (container) => this.containers.keep(container),
        ...(run.journal === undefined ? {} : { journal: run.journal }),
      });
    } catch (err) {
      // runBuild reports step failures itself; reaching here is a bug in the engine, shown to the user too.
      this.options.logger.error({ err, buildId: build.id }, 'build engine failed');
      await log.append(
        errorEvent(`build engine failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      outcome = 'errored';
    }
    if (run.stopReason === 'shutdown') {
      await this.complete(run, 'errored', SHUTDOWN_MESSAGE);
    } else {
      await this.complete(run, outcome);
    }
  }

  private stopRun(run: RunningBuild, reason: 'abort' | 'shutdown'): void {
    run.stopReason ??= reason;
    run.abort.abort();
  }

  /** Write the final status once: the last event, then the stored status, then release the build. */
  private complete(run: RunningBuild, status: BuildOutcome, errorMessage?: string): Promise<void> {
    if (run.handedOver) {
      // Another node collects it: only forget it here.
      this.events.unregister(run.log);
      this.running.delete(run.build.id);
      return Promise.resolve();
    }
    run.completing ??= (async () => {
      const { log, build } = run;
      const { db, logger } = this.options;
      if (errorMessage !== undefined) await log.append(errorEvent(errorMessage));
      await log.append(statusEvent(status, nowSeconds()));
      const stored = await log.seal(this.closing ? 10_000 : undefined);
      if (!stored) logger.error({ buildId: build.id }, 'some events of the build could not be stored');
      await retry(() => finishBuild(db, build.id, status), logger, this.closing ? 10_000 : 60_000).catch(
        (err: unknown) =>
          logger.error({ err, buildId: build.id, status }, 'failed to record the final build status'),
      );
      log.markFinished();
      // Its step results were only kept to resume it after a restart.
      if (run.journal !== undefined)
        await forgetStepResults(db, build.id).catch((err: unknown) =>
          logger.warn({ err, buildId: build.id }, 'cannot delete the step results of a finished build'),
        );
      this.events.unregister(log);
      this.running.delete(build.id);
      await run.releaseLock();
      logger.info({ buildId: build.id, status }, 'build finished');
      run.measurement?.finished(status);
      try {
        await run.pipelineRun?.onFinished?.(status);
      } catch (err) {
        logger.warn({ err, buildId: build.id }, 'after-build callback failed');
      }
    })();
    return run.completing;
  }

  /** End a build no node runs: an error or aborted status after its stored events, then the final status. */
  private async finishStoppedBuild(buildId: number, status: BuildStatus, message?: string): Promise<void> {
    const { db, logger } = this.options;
    const log = new BuildEventLog(buildId, await nextBuildEventId(db, buildId), db, logger);
    if (message !== undefined) await log.append(errorEvent(message));
    await log.append(statusEvent(status, nowSeconds()));
    await log.seal();
    await finishBuild(db, buildId, status);
  }

  /** Every started build whose tracking lock is free has no live node: it ends as errored. */
  private async endOrphanedBuilds(): Promise<void> {
    const { db, logger, nodeName } = this.options;
    for (const { id, trackedBy } of await listStartedBuilds(db)) {
      if (this.running.has(id) || this.closing) continue;
      if (!(await this.locks.tryAcquire(id))) continue;
      let takenOver = false;
      try {
        const build = await findBuild(db, id);
        if (build === undefined || isFinishedStatus(build.status)) continue;
        const takeOver = this.options.takeOverOrphan;
        if (takeOver !== undefined && (await takeOver(build, () => this.locks.release(id)))) {
          // The runtime tracks it now and keeps the lock until that tracking ends.
          takenOver = true;
          logger.info({ buildId: id, trackedBy }, 'took over an orphaned build');
          continue;
        }
        const message =
          trackedBy === nodeName || trackedBy === null
            ? 'build interrupted: the web node running it restarted'
            : `build interrupted: the web node running it (${trackedBy}) stopped`;
        logger.warn({ buildId: id, trackedBy }, 'ending orphaned build as errored');
        await this.finishStoppedBuild(id, 'errored', message);
        // Its own node would have told the scheduler; downstream jobs and serial group peers wait for it.
        if (build.jobId !== null) await requestScheduleAfterBuildFinished(db, build.jobId);
      } finally {
        if (!takenOver) await this.locks.release(id);
      }
    }
  }

  /** Abort requests made through another node arrive as the `aborted` flag. */
  private async pollAbortRequests(): Promise<void> {
    if (this.polling || this.running.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.running.keys()];
      for (const id of await listAbortRequested(this.options.db, ids)) {
        const run = this.running.get(id);
        if (run && !run.abort.signal.aborted) this.stopRun(run, 'abort');
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'failed to poll for abort requests');
    } finally {
      this.polling = false;
    }
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function measuredBuild(build: BuildRecord, pipelineRun: PipelineBuildRun | undefined): MeasuredBuild {
  const { pipelineName, jobName } = pipelineRun?.identity ?? {};
  const kind = build.jobId !== null ? 'job' : build.pipelineId !== null ? 'check' : 'one-off';
  return { kind, team: build.teamName, pipeline: pipelineName, job: jobName };
}

function statusEvent(status: BuildStatus, time: number): BuildEventInput {
  return { event: 'status', version: '1.0', data: { status, time } };
}

/** A build-level error event (no step origin), as Concourse emits for errors outside any step. */
function errorEvent(message: string): BuildEventInput {
  return { event: 'error', version: '4.1', data: { message, origin: {}, time: nowSeconds() } };
}

async function retry<T>(fn: () => Promise<T>, logger: FastifyBaseLogger, forMs: number): Promise<T> {
  const giveUpAt = Date.now() + forMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= giveUpAt) throw err;
      logger.warn({ err }, 'database write failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
