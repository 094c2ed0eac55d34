// After a web node died (kill -9, OOM, node loss) its builds are left `started` while their step pods run on.
// The step that was running is not lost and never run a second time: this module follows it in its pod to the
// end. A task's output resumes right after what the build log already has (the raw offsets its log events
// carry), so lines printed while no node watched are not lost, and none is logged twice; a task that finished
// meanwhile is collected the same way (the rest of its output, its exit status).
//
// Then the build goes on (`useResumer`: the build tracker's resumeBuild): each collected task's exit status is
// written to the build's step journal (builds/step-journal.ts: its outputs were recorded there as it started),
// and each collected get/put/check script's exit status and JSON response — its stdout, which the helper keeps
// in a file in the pod and which is read here from its first byte — is kept there for its step, which
// finishes with it (version, metadata, recorder, finish event) instead of running the script again. The plan
// runs again from the top, every step the journal has finished replayed — not run, not logged again — so
// hooks see the collected outcome and the steps after it run. A pod's plan node is the plan id in its
// metadata (unique, where a step's name may be used twice: retry attempts, hooks). A build with no pod left
// (its node died between two steps) goes on the same way. A build that cannot go on ends `errored` saying so,
// as before: a step started before the journal recorded starts, one whose result is unknown, a pod of an older
// node whose step name the plan uses twice, a build kind not resumed (builds/build-resumption.ts).
//
// It takes the builds' tracking locks before the build tracker starts, so the tracker's orphan sweep leaves
// them alone while their steps finish; a build another live node tracks is not touched. Abort requests are
// honoured (the step is signalled, the build ends aborted). On shutdown it lets go of everything: the next
// web node picks the builds up again. With several web replicas, a survivor's build tracker offers it the
// builds of a replica that died (`takeOver`), whose steps it collects the same way.
//
// Output is redacted as the node that ran the build did (recovery-redaction.ts: the secrets its plan and
// recorded var refs resolve to, through the engine's own LogEventWriter); when that cannot be done the rest
// of the output is withheld with a notice, and the exit status is still collected. Resource scripts' stdout
// (their JSON response) and other processes (`fly intercept` shells) are never logged, as in the engine.
import { Writable } from 'node:stream';
import {
  findBuild,
  finishBuild,
  listAbortRequested,
  nextBuildEventId,
  requestScheduleAfterBuildFinished,
  type BuildRecord,
  type BuildStatus,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import { LogEventWriter, TASK_PROCESS_ID, type Redactor } from '@jetbridge/exec';
import type { ContainerMetadata, Process, ProcessIO } from '@jetbridge/runtime';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { BuildEventLog, type BuildEventInput } from '../builds/build-event-log.js';
import { BuildTrackingLocks } from '../builds/build-tracking-locks.js';
import {
  finishCollectedTask,
  finishedPlanIds,
  forgetStepResults,
  keepCollectedResourceRun,
} from '../builds/step-journal.js';
import type { CredentialManager } from '../creds/credential-manager.js';
import { loggedOutputOffsets, type OutputOffsets } from './logged-output-offsets.js';
import { stepOriginId, stepOriginIds } from './plan-origin.js';
import { recoveryRedaction, type RecoveryRedaction } from './recovery-redaction.js';
import { recordedVarRefs } from './recorded-var-refs.js';

/** A process in a step pod as the helper reports it. */
export interface RecoverableProcessState {
  id: string;
  running: boolean;
  exit?: { status: number };
}

export interface RecoverableContainer {
  readonly handle: string;
  readonly metadata: ContainerMetadata;
  listProcesses(): Promise<RecoverableProcessState[]>;
  /** `from`: resume its output at these raw byte offsets (default: from now). */
  attach(processId: string, io: ProcessIO, from?: OutputOffsets): Promise<Process>;
}

export interface RecoverableWorker {
  /** The containers of every live step pod of this installation. */
  recover(): Promise<RecoverableContainer[]>;
}

export interface StepRecoveryOptions {
  worker: RecoverableWorker;
  db: Kysely<Database>;
  pool: pg.Pool;
  logger: FastifyBaseLogger;
  /** The cluster's credential manager: recovered output is redacted with the secrets the build resolved. */
  credentials: CredentialManager;
  /** How often to look for abort requests of the builds being collected. Default 1 s. */
  abortPollMs?: number;
}

/**
 * Go on with a build whose running steps were collected (their results are in its step journal): 'resumed'
 * when it now runs on this node, which then calls `releaseLock` once it is over; 'closing' when this node is
 * shutting down (the build is left to the next one); 'cannot' when it cannot go on (it ends errored).
 */
export type BuildResumer = (
  build: BuildRecord,
  releaseLock: () => Promise<void>,
) => Promise<'resumed' | 'closing' | 'cannot'>;

/** What was collected of one process. */
interface Collected {
  container: RecoverableContainer;
  processId: string;
  /** Undefined: the helper lost it, or following it failed. */
  exitStatus: number | undefined;
  followed: boolean;
  /** A resource script's stdout (its JSON response), read from its start: what its step decodes. */
  stdout?: string;
}

export class StepRecovery {
  private readonly locks: BuildTrackingLocks;
  private readonly collecting = new Map<number, Promise<void>>();
  private readonly attached = new Map<number, Process[]>();
  private readonly abortRequested = new Set<number>();
  private stopping = false;
  private abortPoll: NodeJS.Timeout | undefined;
  private setResumer: (resumer: BuildResumer | undefined) => void = () => undefined;
  /** Set once the app exists (`useResumer`); undefined when stopping first. */
  private readonly resumer = new Promise<BuildResumer | undefined>((resolve) => {
    this.setResumer = resolve;
  });

  private constructor(private readonly options: StepRecoveryOptions) {
    this.locks = new BuildTrackingLocks(options.pool, options.logger);
  }

  /**
   * Find the step pods of builds no live node runs, take those builds' tracking locks (before the build
   * tracker's first orphan sweep), and follow their steps in the background.
   */
  static async start(options: StepRecoveryOptions): Promise<StepRecovery> {
    const recovery = new StepRecovery(options);
    const byBuild = new Map<number, RecoverableContainer[]>();
    for (const container of await options.worker.recover()) {
      const buildId = container.metadata.buildId;
      if (buildId === undefined) continue;
      byBuild.set(buildId, [...(byBuild.get(buildId) ?? []), container]);
    }
    for (const [buildId, containers] of byBuild) {
      const build = await findBuild(options.db, buildId);
      if (build?.status !== 'started') continue; // over already (the pod reaper removes its pods) or pending
      if (!(await recovery.locks.tryAcquire(buildId))) continue; // a live node runs it
      options.logger.info(
        { buildId, pods: containers.length },
        'collecting the steps of a build interrupted by a restart',
      );
      recovery.startCollecting(build, containers, () => recovery.locks.release(buildId));
    }
    return recovery;
  }

  /**
   * The build tracker's `takeOverOrphan`: a started build whose node is gone (its tracking lock, held by the
   * caller, was free). True when some of its step pods live — their steps are collected here and
   * `releaseLock` is called once the build is finished (or let go of at shutdown); false otherwise (nothing to
   * collect: the tracker ends it).
   */
  async takeOver(build: BuildRecord, releaseLock: () => Promise<void>): Promise<boolean> {
    if (this.stopping || this.collecting.has(build.id) || build.status !== 'started') return false;
    const containers = (await this.options.worker.recover()).filter(
      (container) => container.metadata.buildId === build.id,
    );
    if (this.stopping) return false;
    // No pod left (its node died between two steps, or before the first): nothing to collect, but it may
    // still go on from its step journal.
    this.options.logger.info(
      { buildId: build.id, trackedBy: build.trackedBy, pods: containers.length },
      'collecting the steps of a build whose web node stopped',
    );
    this.startCollecting(build, containers, releaseLock, build.trackedBy);
    return true;
  }

  private startCollecting(
    build: BuildRecord,
    containers: RecoverableContainer[],
    release: () => Promise<void>,
    formerNode?: string | null,
  ): void {
    const buildId = build.id;
    const releaseOnce = once(() =>
      release().catch((err: unknown) =>
        this.options.logger.warn({ err, buildId }, 'cannot release the tracking lock of a build'),
      ),
    );
    this.collecting.set(
      buildId,
      this.collect(build, containers, releaseOnce, formerNode)
        .catch((err: unknown) => {
          this.options.logger.error({ err, buildId }, 'step recovery failed');
          return 'over' as const;
        })
        .then((outcome) => {
          this.collecting.delete(buildId);
          // A resumed build's lock is freed by the build tracker once it is over.
          if (outcome !== 'resumed') return releaseOnce();
        }),
    );
    if (this.abortPoll === undefined) {
      this.abortPoll = setInterval(() => void this.pollAbortRequests(), this.options.abortPollMs ?? 1000);
      this.abortPoll.unref();
    }
  }

  /**
   * How collected builds go on (the build tracker, once the app exists). Collections that end before it is
   * given wait for it.
   */
  useResumer(resumer: BuildResumer): void {
    this.setResumer(resumer);
  }

  /** Builds being collected now. */
  get buildIds(): number[] {
    return [...this.collecting.keys()];
  }

  /** Resolves when every build found at start has been collected (or let go of by `stop`). */
  async settled(): Promise<void> {
    await Promise.all([...this.collecting.values()]);
  }

  /**
   * Stop collecting without finishing anything: the builds stay `started` for the next web node. Call it
   * before the worker lets go of its pods (their followers then end at once).
   */
  async stop(drain: () => Promise<void> = async () => undefined): Promise<void> {
    this.stopping = true;
    this.setResumer(undefined);
    clearInterval(this.abortPoll);
    await drain();
    await this.settled();
    await this.locks.close();
  }

  /**
   * `formerNode`: the replica that ran it, when it was another one (for the error event). `release` frees the
   * build's tracking lock: handed to the build tracker with a build that goes on ('resumed').
   */
  private async collect(
    build: BuildRecord,
    containers: RecoverableContainer[],
    release: () => Promise<void>,
    formerNode?: string | null,
  ): Promise<'resumed' | 'over'> {
    const { db, logger } = this.options;
    const { id: buildId, plan } = build;
    const log = new BuildEventLog(buildId, await nextBuildEventId(db, buildId), db, logger);
    const redaction = await this.redactionFor(build);
    const collected: Collected[] = [];
    /** A pod whose processes could not be listed: what ran in it is unknown, the build cannot go on. */
    let unknownPods = 0;
    // Pods of steps that ended before the restart (kept for `fly intercept`): their results and output are
    // in the build already.
    const finishedSteps = await finishedPlanIds(db, buildId);
    await Promise.all(
      containers.map(async (container) => {
        const origin = originOf(plan, container.metadata);
        const stepId = planIdOf(plan, container.metadata);
        if (stepId !== undefined && finishedSteps.has(stepId)) return;
        const say = (text: string) => log.append(logEvent(origin, 'stderr', text));
        let processes: RecoverableProcessState[];
        try {
          processes = await container.listProcesses();
          logger.debug({ buildId, container: container.handle, processes }, 'processes of a step pod');
        } catch (err) {
          logger.warn(
            { err, buildId, container: container.handle },
            'cannot list the processes of a step pod',
          );
          unknownPods++;
          return;
        }
        // A task's own process, or a get/put/check's resource script, resumes where its build log stands;
        // other processes (shells of `fly intercept`) are not part of the log.
        const stepProcess = STEP_PROCESS_OF[container.metadata.type];
        const resumeFrom =
          stepProcess !== undefined && origin.id !== undefined
            ? await loggedOutputOffsets(db, buildId, origin.id)
            : undefined;
        for (const state of processes) {
          const from = state.id === stepProcess ? resumeFrom : undefined;
          if (!state.running && from === undefined) {
            collected.push({
              container,
              processId: state.id,
              exitStatus: state.exit?.status,
              followed: false,
            });
            continue;
          }
          await say(
            state.running
              ? '\njetbridge: the web node restarted; following this step in its pod (not running it again)\n'
              : '\njetbridge: the web node restarted; collecting the result of this step from its pod (not running it again)\n',
          );
          const logged = state.id === TASK_PROCESS_ID || state.id === RESOURCE_PROCESS_ID;
          if (logged && redaction.kind === 'withheld') {
            await say(
              `jetbridge: the rest of this step's output is withheld: ${redaction.reason}; its exit status is still collected\n`,
            );
          }
          logger.debug(
            { buildId, container: container.handle, process: state.id, from },
            'following a step process',
          );
          const output = processOutput(
            log,
            origin,
            state.id,
            redaction.kind === 'redact' ? redaction.redactor : undefined,
            from,
          );
          try {
            const process = await container.attach(state.id, output.io, from);
            logger.debug({ buildId, process: state.id }, 'attached to a step process');
            this.attached.set(buildId, [...(this.attached.get(buildId) ?? []), process]);
            if (this.abortRequested.has(buildId)) await process.signal('terminate').catch(() => undefined);
            const exitStatus = await process.wait().finally(() => output.close());
            logger.debug({ buildId, process: state.id, exitStatus }, 'a followed step process exited');
            const stdout = output.response();
            collected.push({
              container,
              processId: state.id,
              exitStatus,
              followed: true,
              ...(stdout === undefined ? {} : { stdout }),
            });
          } catch (err) {
            if (this.stopping) return; // let go of: the next web node follows it
            logger.warn({ err, buildId, container: container.handle }, 'cannot follow a step in its pod');
            collected.push({ container, processId: state.id, exitStatus: undefined, followed: true });
          }
        }
      }),
    );
    if (this.stopping) {
      await log.seal(10_000);
      return 'over';
    }
    const aborted = this.abortRequested.has(buildId);
    for (const result of collected) {
      const origin = originOf(plan, result.container.metadata);
      if (
        result.container.metadata.type === 'task' &&
        result.followed &&
        result.exitStatus !== undefined &&
        !aborted
      ) {
        await log.append({
          event: 'finish-task',
          version: '4.0',
          data: { time: nowSeconds(), exit_status: result.exitStatus, origin },
        });
      }
    }
    if (!aborted && unknownPods === 0 && (await this.journalCollected(build, collected))) {
      const resume = await this.resumer; // undefined once stopping
      if (this.stopping) {
        await log.seal(10_000);
        return 'over';
      }
      // Its events so far are stored before the tracker numbers the next ones.
      await log.seal();
      const resumed = resume === undefined ? 'closing' : await resume(build, release);
      // Left `started` (its collected steps recorded): the next web node goes on with it.
      if (resumed === 'closing') return 'over';
      if (resumed === 'resumed') {
        logger.info(
          {
            buildId,
            steps: collected.map((c) => ({ step: c.container.metadata.stepName, exitStatus: c.exitStatus })),
          },
          'collected the steps of an interrupted build; it goes on',
        );
        return 'resumed';
      }
      return this.endBuild(build, collected, formerNode, false);
    }
    return this.endBuild(build, collected, formerNode, aborted, log);
  }

  /**
   * Record in the build's step journal how each collected step ended: a task's exit status finishes its row;
   * a get/put/check script's exit status and response are kept on its row for the step to finish with when
   * the build goes on. False when one of them cannot be replayed (an unknown exit status or response, no plan
   * node known for its pod — a pod of an older node, whose step name the plan uses twice — no journal row):
   * then the build cannot go on.
   */
  private async journalCollected(build: BuildRecord, collected: Collected[]): Promise<boolean> {
    const { db } = this.options;
    for (const result of collected) {
      const { metadata } = result.container;
      const planId = planIdOf(build.plan, metadata);
      if (result.processId === TASK_PROCESS_ID && metadata.type === 'task') {
        if (result.exitStatus === undefined || planId === undefined) return false;
        if (!(await finishCollectedTask(db, build.id, planId, result.exitStatus))) return false;
      } else if (result.processId === RESOURCE_PROCESS_ID && metadata.type !== 'task') {
        if (result.exitStatus === undefined || result.stdout === undefined || planId === undefined)
          return false;
        const output = { exitStatus: result.exitStatus, stdout: result.stdout };
        if (!(await keepCollectedResourceRun(db, build.id, planId, output))) return false;
      } else if (result.processId === TASK_PROCESS_ID || result.processId === RESOURCE_PROCESS_ID) {
        return false; // not the step process of its pod's type: nothing the engine can take
      }
      // Other processes (`fly intercept` shells) are not part of the build.
    }
    return true;
  }

  /** The build cannot go on: it ends errored (aborted when that was asked for), saying what was collected. */
  private async endBuild(
    build: BuildRecord,
    collected: Collected[],
    formerNode: string | null | undefined,
    aborted: boolean,
    unsealedLog?: BuildEventLog,
  ): Promise<'over'> {
    const { db, logger } = this.options;
    const buildId = build.id;
    const log = unsealedLog ?? new BuildEventLog(buildId, await nextBuildEventId(db, buildId), db, logger);
    const status: BuildStatus = aborted ? 'aborted' : 'errored';
    if (!aborted) await log.append(errorEvent(describeOutcome(collected, formerNode)));
    await log.append({ event: 'status', version: '1.0', data: { status, time: nowSeconds() } });
    await log.seal();
    await finishBuild(db, buildId, status);
    log.markFinished();
    await forgetStepResults(db, buildId).catch((err: unknown) =>
      logger.warn({ err, buildId }, 'cannot delete the step results of a finished build'),
    );
    // As for any build ending: its job's downstream jobs and serial group peers may go now.
    if (build.jobId !== null) await requestScheduleAfterBuildFinished(db, build.jobId);
    logger.info(
      {
        buildId,
        status,
        steps: collected.map((c) => ({ step: c.container.metadata.stepName, exitStatus: c.exitStatus })),
      },
      'collected the steps of an interrupted build',
    );
    return 'over';
  }

  /** How this build's recovered output is redacted; withheld (never unredacted) when that is not known. */
  private async redactionFor(build: BuildRecord): Promise<RecoveryRedaction> {
    const { db, logger, credentials } = this.options;
    let redaction: RecoveryRedaction;
    try {
      redaction = await recoveryRedaction({
        db,
        credentials,
        build,
        recordedRefs: await recordedVarRefs(db, build.id),
      });
    } catch (err) {
      logger.warn({ err, buildId: build.id }, 'cannot tell the secrets of a recovered build');
      redaction = { kind: 'withheld', reason: 'its secrets could not be resolved' };
    }
    if (redaction.kind === 'withheld') {
      logger.warn(
        { buildId: build.id, reason: redaction.reason },
        'withholding the output of a recovered build',
      );
    }
    return redaction;
  }

  private async pollAbortRequests(): Promise<void> {
    const ids = this.buildIds.filter((id) => !this.abortRequested.has(id));
    if (ids.length === 0) return;
    try {
      for (const id of await listAbortRequested(this.options.db, ids)) {
        this.abortRequested.add(id);
        for (const process of this.attached.get(id) ?? []) {
          await process.signal('terminate').catch(() => undefined);
        }
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'failed to poll for abort requests of recovered builds');
    }
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

function describeOutcome(collected: Collected[], formerNode?: string | null): string {
  const steps = collected
    .filter((c) => c.followed || c.exitStatus !== undefined)
    .map((c) => {
      const name = c.container.metadata.stepName ?? c.container.metadata.resourceName ?? c.container.handle;
      const result = c.exitStatus === undefined ? 'its result is unknown' : `exit status ${c.exitStatus}`;
      return `'${name}' (${result})`;
    });
  const collectedText =
    steps.length === 0 ? '' : `; collected from their pods without running them again: ${steps.join(', ')}`;
  const interrupted =
    formerNode === undefined || formerNode === null
      ? 'the web node running it restarted'
      : `the web node running it (${formerNode}) stopped`;
  return `build interrupted: ${interrupted}${collectedText}; the rest of the build did not run`;
}

/** The origin of a step pod's events: its plan node, or the first one running a step of its name. */
function originOf(plan: unknown, metadata: ContainerMetadata): { id?: string } {
  const id = metadata.planId ?? stepOriginId(plan, metadata);
  return id === undefined ? {} : { id };
}

/**
 * The plan node of a step pod: recorded in its metadata (the engine's plan id); for a pod without one (made
 * by an older node) the only node of the plan running a step of its type and name, if there is one.
 */
function planIdOf(plan: unknown, metadata: ContainerMetadata): string | undefined {
  if (metadata.planId !== undefined) return metadata.planId;
  const ids = stepOriginIds(plan, metadata, 2);
  return ids.length === 1 ? ids[0] : undefined;
}

function logEvent(
  origin: { id?: string },
  source: 'stdout' | 'stderr',
  payload: string,
  outputOffset?: number,
): BuildEventInput {
  return {
    event: 'log',
    version: '5.1',
    data: {
      time: nowSeconds(),
      origin: { ...origin, source },
      payload,
      // As the engine's task log events: where a node collecting this step after another restart resumes.
      ...(outputOffset === undefined ? {} : { output_offset: outputOffset }),
    },
  };
}

function errorEvent(message: string): BuildEventInput {
  return { event: 'error', version: '4.1', data: { message, origin: {}, time: nowSeconds() } };
}

/** The process id of resource scripts (`get`, `put`, `check`) in their pods (packages/exec resource-container.ts). */
const RESOURCE_PROCESS_ID = 'resource';

/**
 * The process whose output a step's log events carry, with `output_offset`, by container type: where its
 * output resumes after a restart.
 */
const STEP_PROCESS_OF: Partial<Record<ContainerMetadata['type'], string>> = {
  task: TASK_PROCESS_ID,
  get: RESOURCE_PROCESS_ID,
  put: RESOURCE_PROCESS_ID,
  check: RESOURCE_PROCESS_ID,
};

/**
 * Where a followed process's output goes, as the engine sends it: a task's stdout and stderr and a resource
 * script's stderr become `log` events through the engine's LogEventWriter and `redactor`; a resource
 * script's stdout (its JSON response, never logged) is kept for `response()` — whole when it was read from
 * offset 0, as a node collecting it asks; everything else (`fly intercept` shells) and, without a redactor,
 * every log is dropped. With `from` (output resumed at those raw byte offsets) the events carry the offset at
 * their end.
 */
function processOutput(
  log: BuildEventLog,
  origin: { id?: string },
  processId: string,
  redactor: Redactor | undefined,
  from: OutputOffsets | undefined,
): { io: ProcessIO; close(): Promise<void>; response(): string | undefined } {
  const writers: LogEventWriter[] = [];
  const stream = (source: 'stdout' | 'stderr', logged: boolean): Writable => {
    if (!logged || redactor === undefined) return discard();
    const start = from?.[source];
    const writer = new LogEventWriter(
      (payload, rawOffset) =>
        log.append(logEvent(origin, source, payload, start === undefined ? undefined : start + rawOffset)),
      redactor,
    );
    writers.push(writer);
    return writer.stream();
  };
  const isTask = processId === TASK_PROCESS_ID;
  const isResource = processId === RESOURCE_PROCESS_ID;
  const keepsResponse = isResource && from?.stdout === 0;
  const response: Buffer[] = [];
  const io: ProcessIO = {
    stdout: keepsResponse ? collect(response) : stream('stdout', isTask),
    stderr: stream('stderr', isTask || isResource),
  };
  return {
    response: () => (keepsResponse ? Buffer.concat(response).toString('utf8') : undefined),
    io,
    close: async () => {
      await Promise.all([io.stdout, io.stderr].map((s) => (s === undefined ? undefined : endStream(s))));
      for (const writer of writers) await writer.close();
    },
  };
}

function collect(chunks: Buffer[]): Writable {
  return new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      chunks.push(chunk);
      done();
    },
  });
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

function endStream(stream: Writable): Promise<void> {
  if (stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('finish', resolve);
    stream.once('error', () => resolve());
    stream.end();
  });
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
