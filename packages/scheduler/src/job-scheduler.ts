// The scheduler (Concourse's atc/scheduler runner.go, scheduler.go, buildstarter.go): for each job whose
// scheduling was requested, resolve its next-build inputs, create a pending build when a `trigger: true`
// input has a version the job never used, and start pending builds oldest first as far as pausing, serial
// groups and max_in_flight allow. See concourse-semantics.md §5.
//
// State lives in the database (jobs.schedule_requested / last_scheduled, pending builds, next_build_inputs),
// so any web node may schedule any job; the per-job advisory lock makes sure only one does at a time.
import {
  adoptNextBuildInputs,
  adoptRerunBuildInputs,
  createJobBuild,
  findJobById,
  finishBuild,
  listAlgorithmInputs,
  listInputResourcesAwaitingCheck,
  listJobs,
  listJobsToSchedule,
  listPendingBuildsOfArchivedPipelines,
  listPendingBuildsToStart,
  markJobScheduledUpTo,
  readScheduleRequest,
  requestScheduleAfterBuildFinished,
  requestScheduleForJobs,
  saveNextInputMapping,
  isDatabaseUnavailable,
  scheduleJobBuild,
  setJobHasNewInputs,
  type AdoptedBuildInput,
  type Database,
  type JobRecord,
  type Kysely,
  type PendingJobBuild,
} from '@jetbridge/db';
import { computeInputs, type ComputedInputs } from './algorithm/compute-inputs.js';
import type { BuildInputVersion, BuildStarter, InputChecker, SchedulableBuild } from './build-starter.js';
import { tryLockJobScheduling } from './job-scheduling-lock.js';

/** What the scheduler logs through (pino and Fastify's logger fit). */
export interface SchedulerLogger {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface JobSchedulerOptions {
  db: Kysely<Database>;
  starter: BuildStarter;
  /** Checks before builds take their versions (see InputChecker); none by default. */
  inputChecker?: InputChecker;
  logger?: SchedulerLogger;
  /** How often due jobs are looked for (Concourse's `--component-runner-interval`); 10 s by default. */
  intervalMs?: number;
  /** Jobs this node schedules at once; each holds a database connection for its lock meanwhile. 4 by default. */
  concurrency?: number;
  /** Told the duration of each periodic pass, in seconds (the web node's metrics). */
  onTickDone?(seconds: number): void;
}

/** What one scheduling pass of a job did. */
export interface JobScheduleReport {
  jobId: number;
  /** `busy`: another scheduler (this node or another) holds the job; `gone`: no such active job. */
  outcome: 'scheduled' | 'busy' | 'gone';
  /** A pending build the pass created because a trigger input had a new version. */
  createdBuildId: number | null;
  /** Builds handed to the BuildStarter. */
  startedBuildIds: number[];
  /** Pending builds are waiting (paused, max in flight, checks): the job stays due and is tried each tick. */
  needsRetry: boolean;
}

const silentLogger: SchedulerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class JobScheduler {
  private readonly db: Kysely<Database>;
  private readonly starter: BuildStarter;
  private readonly inputChecker: InputChecker | undefined;
  private readonly logger: SchedulerLogger;
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private readonly onTickDone: ((seconds: number) => void) | undefined;
  /** The pass under way per job on this node, and one queued behind it. */
  private readonly running = new Map<number, Promise<JobScheduleReport>>();
  private readonly queued = new Map<number, Promise<JobScheduleReport>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: JobSchedulerOptions) {
    this.db = options.db;
    this.starter = options.starter;
    this.inputChecker = options.inputChecker;
    this.logger = options.logger ?? silentLogger;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.onTickDone = options.onTickDone;
  }

  /** Schedule due jobs now and every interval until {@link stop}. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.runTick(), this.intervalMs);
    this.timer.unref();
    this.runTick();
  }

  /**
   * Stop the loop and wait for the passes under way. Passes still waiting for a slot do nothing: their jobs
   * stay due for the next node (a pipeline of thousands of jobs would otherwise hold a shutdown for minutes).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.kickTimer);
    this.timer = undefined;
    await Promise.allSettled([...this.running.values(), ...this.queued.values()]);
  }

  /** Look for due jobs soon (coalesces bursts of requests into one pass). */
  kick(): void {
    if (this.stopped || this.kickTimer) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      this.runTick();
    }, 50);
    this.kickTimer.unref();
  }

  /**
   * One pass over the jobs whose scheduling was requested since they were last scheduled, after aborting
   * pending builds of archived pipelines. A job this node is scheduling already gets one more pass right
   * after that one: the pass under way may have read its state before the change that made the job due (a
   * check it waits for ended), and skipping the job would leave it waiting for the next interval.
   */
  async tick(): Promise<JobScheduleReport[]> {
    await this.abortArchivedPendingBuilds();
    const due = await listJobsToSchedule(this.db);
    const passes = due.map((job) => this.scheduleJob(job.id));
    const settled = await Promise.allSettled(passes);
    return settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  }

  /**
   * Schedule one job now, whether due or not. A pass already under way on this node is followed by one more,
   * so the caller's change is seen. Rejects when the pass failed (the job stays due).
   */
  scheduleJob(jobId: number): Promise<JobScheduleReport> {
    if (!this.running.has(jobId)) return this.runPass(jobId);
    let queued = this.queued.get(jobId);
    if (!queued) {
      const previous = this.running.get(jobId) ?? Promise.resolve();
      queued = previous.then(
        () => this.runPass(jobId),
        () => this.runPass(jobId),
      );
      this.queued.set(jobId, queued);
    }
    return queued;
  }

  /** Schedule every active job of a pipeline. */
  async schedulePipeline(pipelineId: number): Promise<JobScheduleReport[]> {
    const jobs = await listJobs(this.db, pipelineId);
    return Promise.all(jobs.map((job) => this.scheduleJob(job.id)));
  }

  /**
   * Mark jobs as needing scheduling (new versions, a finished build, a trigger) and schedule them on this
   * node right away; other nodes see the request on their next tick.
   */
  async requestSchedule(jobIds: readonly number[]): Promise<JobScheduleReport[]> {
    await requestScheduleForJobs(this.db, jobIds);
    if (this.stopped) return [];
    return Promise.all([...new Set(jobIds)].map((id) => this.scheduleJob(id)));
  }

  /**
   * A build of the job finished: its downstream jobs, and the jobs sharing a serial group with it (a slot
   * freed up), are scheduled.
   */
  async jobBuildFinished(jobId: number): Promise<JobScheduleReport[]> {
    const jobIds = await requestScheduleAfterBuildFinished(this.db, jobId);
    if (this.stopped) return [];
    return Promise.all(jobIds.map((id) => this.scheduleJob(id)));
  }

  private runTick(): void {
    if (this.stopped) return;
    const began = performance.now();
    this.tick()
      .catch((err: unknown) =>
        // A database restart is not a scheduler bug: the next tick tries again.
        isDatabaseUnavailable(err)
          ? this.logger.warn({ err }, 'scheduler tick failed: the database is unavailable')
          : this.logger.error({ err }, 'scheduler tick failed'),
      )
      .finally(() => this.onTickDone?.((performance.now() - began) / 1000));
  }

  private runPass(jobId: number): Promise<JobScheduleReport> {
    this.queued.delete(jobId);
    const pass = this.limited(() => this.schedulePass(jobId)).finally(() => {
      if (this.running.get(jobId) === pass) this.running.delete(jobId);
    });
    this.running.set(jobId, pass);
    return pass;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    while (this.active >= this.concurrency) await new Promise<void>((resume) => this.waiting.push(resume));
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  private async schedulePass(jobId: number): Promise<JobScheduleReport> {
    const report: JobScheduleReport = {
      jobId,
      outcome: 'scheduled',
      createdBuildId: null,
      startedBuildIds: [],
      needsRetry: false,
    };
    if (this.stopped) return { ...report, outcome: 'busy' };
    const lock = await tryLockJobScheduling(this.db, jobId);
    if (!lock) return { ...report, outcome: 'busy' };
    try {
      // Read before working: requests made during the pass stay due for the next one.
      const requested = await readScheduleRequest(this.db, jobId);
      const job = await findJobById(this.db, jobId);
      if (!job || requested === undefined) return { ...report, outcome: 'gone' };
      const started = Date.now();
      await this.schedule(job, report);
      if (!report.needsRetry) await markJobScheduledUpTo(this.db, jobId, requested);
      this.logger.debug(
        { job: job.name, pipelineId: job.pipelineId, ms: Date.now() - started, ...report },
        'job scheduled',
      );
      return report;
    } catch (err) {
      this.logger.error({ err, jobId }, 'failed to schedule job');
      throw err;
    } finally {
      await lock.release();
    }
  }

  /** `Scheduler.Schedule`: paused jobs and pipelines only get their pending builds looked at. */
  private async schedule(job: JobRecord, report: JobScheduleReport): Promise<void> {
    let computed: ComputedInputs | undefined;
    if (!job.paused && !job.pipelinePaused) {
      computed = await this.computeAndSaveInputs(job);
      report.createdBuildId = await this.ensurePendingBuildExists(job, computed);
    }
    report.needsRetry = await this.startPendingBuilds(job, computed !== undefined, report);
  }

  private async computeAndSaveInputs(job: JobRecord): Promise<ComputedInputs> {
    const inputs = await listAlgorithmInputs(this.db, job.id);
    const computed = await computeInputs(this.db, job.id, inputs);
    if (computed.hasNext) await requestScheduleForJobs(this.db, [job.id]);
    await saveNextInputMapping(
      this.db,
      job.id,
      computed.entries.map((entry) => ({
        inputName: entry.input.name,
        resourceId: entry.input.resourceId,
        versionSha256: entry.versionSha256,
        firstOccurrence: entry.firstOccurrence,
        resolveError: entry.resolveError,
        passedBuildIds: entry.passedBuildIds,
      })),
      computed.resolved,
    );
    return computed;
  }

  /**
   * With every input resolved: a `trigger: true` input with a version the job never used makes sure one
   * pending build exists; any never-used version sets `has_new_inputs`.
   */
  private async ensurePendingBuildExists(job: JobRecord, computed: ComputedInputs): Promise<number | null> {
    if (!computed.resolved) return null;
    const fresh = computed.entries.filter((entry) => entry.firstOccurrence);
    let created: number | null = null;
    if (fresh.some((entry) => entry.input.trigger)) {
      const build = await createJobBuild(this.db, job.id, {
        createdBy: null,
        manuallyTriggered: false,
        onlyIfNonePending: true,
      });
      if (build) {
        created = build.id;
        this.logger.info(
          { jobId: job.id, job: job.name, buildId: build.id, buildName: build.name },
          'created pending build for new inputs',
        );
      }
    }
    await setJobHasNewInputs(this.db, job.id, fresh.length > 0);
    return created;
  }

  /**
   * `TryStartPendingBuildsForJob`: oldest first, each through the max-in-flight gate, then its inputs, then
   * the starter. True when a build has to wait (the job is retried on later ticks).
   */
  private async startPendingBuilds(
    job: JobRecord,
    inputsFresh: boolean,
    report: JobScheduleReport,
  ): Promise<boolean> {
    for (const pending of await listPendingBuildsToStart(this.db, job.id)) {
      const build = schedulableBuild(pending);
      if (pending.aborted) {
        await this.abortPendingBuild(build);
        continue;
      }
      const gate = await scheduleJobBuild(this.db, pending.id);
      if (gate === 'gone') continue;
      if (gate !== 'scheduled') {
        this.logger.debug({ jobId: job.id, buildId: pending.id, reason: gate }, 'pending build waits');
        return true;
      }
      if (this.inputChecker && pending.rerunOf === null) {
        const unchecked = await listInputResourcesAwaitingCheck(this.db, pending);
        if (unchecked.length > 0) {
          this.inputChecker.requestChecks(build, unchecked);
          return true;
        }
      }
      const inputs = await this.adoptInputs(job, pending, inputsFresh);
      if (!inputs) {
        // A rerun whose original's versions are gone does not hold up the builds after it.
        if (pending.rerunOf !== null && !pending.manuallyTriggered) continue;
        this.logger.debug({ jobId: job.id, buildId: pending.id }, 'pending build has no inputs yet');
        return false;
      }
      this.logger.info(
        { jobId: job.id, job: job.name, buildId: pending.id, buildName: pending.name },
        'starting job build',
      );
      const outcome = await this.starter.startBuild(build, inputs.map(buildInputVersion));
      if (!outcome.started) {
        this.logger.info({ jobId: job.id, buildId: pending.id, ...outcome }, 'job build did not start');
      }
      report.startedBuildIds.push(pending.id);
    }
    return false;
  }

  /** Scheduler builds take the next-build inputs; manual triggers resolve afresh; reruns copy their original. */
  private async adoptInputs(
    job: JobRecord,
    pending: PendingJobBuild,
    inputsFresh: boolean,
  ): Promise<AdoptedBuildInput[] | undefined> {
    if (pending.manuallyTriggered) {
      if (!inputsFresh) await this.computeAndSaveInputs(job);
      return adoptNextBuildInputs(this.db, pending.id, job.id);
    }
    if (pending.rerunOf !== null) return adoptRerunBuildInputs(this.db, pending.id, pending.rerunOf);
    return adoptNextBuildInputs(this.db, pending.id, job.id);
  }

  private async abortArchivedPendingBuilds(): Promise<void> {
    for (const pending of await listPendingBuildsOfArchivedPipelines(this.db)) {
      await this.abortPendingBuild(schedulableBuild(pending));
    }
  }

  private async abortPendingBuild(build: SchedulableBuild): Promise<void> {
    this.logger.info({ jobId: build.jobId, buildId: build.id }, 'aborting pending build');
    if (this.starter.abortPendingBuild) await this.starter.abortPendingBuild(build);
    else await finishBuild(this.db, build.id, 'aborted');
  }
}

function schedulableBuild(pending: PendingJobBuild): SchedulableBuild {
  return {
    id: pending.id,
    name: pending.name,
    jobId: pending.jobId,
    jobName: pending.jobName,
    pipelineId: pending.pipelineId,
    pipelineName: pending.pipelineName,
    teamId: pending.teamId,
    teamName: pending.teamName,
    manuallyTriggered: pending.manuallyTriggered,
    rerunOf: pending.rerunOf,
    createdBy: pending.createdBy,
    createdAt: pending.createdAt,
  };
}

function buildInputVersion(input: AdoptedBuildInput): BuildInputVersion {
  return {
    name: input.name,
    resourceId: input.resourceId,
    resourceName: input.resourceName,
    version: input.version,
    versionSha256: input.versionSha256,
    firstOccurrence: input.firstOccurrence,
  };
}
