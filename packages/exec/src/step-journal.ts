// What the engine keeps of a finished leaf step (task, get, put) for the steps after it — the artifacts it
// registered, its plan's stored result, a get's metadata — written to a StepJournal as the step starts and
// ends, so that a web node taking over a build after the node running it died can run the plan again from the
// top with every finished step *replayed*: it returns its recorded outcome at once, re-registering what it
// left (no container, no events: those are in the build's log already). A get/put/check whose script ended
// while no node watched is *collected*: its script is not run again, the step takes its collected exit status
// and response and does the rest (decode, record, finish event) as it would have. Without a journal nothing
// changes.
import type { Volume } from '@jetbridge/runtime';
import type { MetadataField } from './build-recorder.js';
import type { RunState } from './run-state.js';
import { StepError } from './step-errors.js';

/** How a leaf step ended, as recorded. */
export interface StepRecord {
  succeeded: boolean;
  /** A task's exit status (absent after a timeout). */
  exitStatus?: number;
  /** The artifacts it registered: name → volume handle. */
  artifacts: Record<string, string>;
  /** Its plan's stored result (a get's `{name, version}`, a put's version), for `version_from`. */
  result?: unknown;
  /** A get's metadata: its `((.:<name>.<field>))` local var. */
  metadata?: { name: string; fields: MetadataField[] };
}

/**
 * A resource script (`in`, `out`, `check`) that ended while no web node watched it, as collected from its pod
 * after a restart: its step takes this instead of running the script again, and finishes as it would have.
 */
export interface CollectedRun {
  exitStatus: number;
  /** The script's JSON response. */
  stdout: string;
  /** The artifacts recorded as it started (a get's volume): name → volume handle. */
  artifacts: Record<string, string>;
}

export interface StepJournal {
  /** The record of `planId` when an earlier run of this build finished it: the step is replayed. */
  finished(planId: string): StepRecord | undefined;
  /** The collected end of `planId`'s resource script, when it ended while no web node watched it. */
  collected(planId: string): CollectedRun | undefined;
  /** A step is about to start its process; `artifacts` are those it will register (a task's outputs). */
  starting(planId: string, artifacts: Record<string, string>): Promise<void>;
  /** A step ended (not when it was aborted or errored: such a build does not go on). */
  finish(planId: string, record: StepRecord): Promise<void>;
}

/** A replayed step's artifact whose volume is gone (reaped, or the web's store was lost). */
export class ReplayedArtifactGoneError extends StepError {
  constructor(artifact: string, handle: string, stepName: string) {
    super(
      `cannot resume the build after the restart: the artifact ${artifact} (volume ${handle}) that step ${stepName} produced before it is gone`,
      stepName,
    );
    this.name = 'ReplayedArtifactGoneError';
  }
}

/**
 * Replay `planId` when the journal has it finished: its artifacts registered again and its result stored;
 * undefined when it must run.
 */
export async function replayStep(
  state: RunState,
  planId: string,
  stepName: string,
): Promise<StepRecord | undefined> {
  const record = state.journal?.finished(planId);
  if (record === undefined) return undefined;
  const volumes: Array<[string, Volume]> = [];
  for (const [name, handle] of Object.entries(record.artifacts)) {
    const volume = await state.worker.lookupVolume(handle);
    if (volume === undefined) throw new ReplayedArtifactGoneError(name, handle, stepName);
    volumes.push([name, volume]);
  }
  for (const [name, volume] of volumes) state.artifacts.register(name, volume);
  if (record.result !== undefined) state.storeResult(planId, record.result);
  if (record.metadata !== undefined) {
    const { name, fields } = record.metadata;
    state.vars.addLocalVar(name, Object.fromEntries(fields.map((m) => [m.name, m.value])), false);
  }
  state.logger.info({ buildId: state.build.id, planId, step: stepName }, 'replayed a finished step');
  return record;
}

/**
 * The collected end of resource step `planId`'s script (see CollectedRun) with its artifacts' volumes, or
 * undefined when the script must run.
 */
export async function collectedResourceRun(
  state: RunState,
  planId: string,
  stepName: string,
): Promise<{ exitStatus: number; stdout: string; volumes: Map<string, Volume> } | undefined> {
  const run = state.journal?.collected(planId);
  if (run === undefined) return undefined;
  const volumes = new Map<string, Volume>();
  for (const [name, handle] of Object.entries(run.artifacts)) {
    const volume = await state.worker.lookupVolume(handle);
    if (volume === undefined) throw new ReplayedArtifactGoneError(name, handle, stepName);
    volumes.set(name, volume);
  }
  state.logger.info(
    { buildId: state.build.id, planId, step: stepName, exitStatus: run.exitStatus },
    'finishing a step with its script collected after a restart',
  );
  return { exitStatus: run.exitStatus, stdout: run.stdout, volumes };
}

/** Record in the journal, if any; a failure is logged (the build goes on, it only could not be resumed). */
export async function journalWrite(
  state: RunState,
  write: (journal: StepJournal) => Promise<void>,
): Promise<void> {
  const journal = state.journal;
  if (journal === undefined) return;
  try {
    await write(journal);
  } catch (error) {
    state.logger.error({ buildId: state.build.id, err: String(error) }, 'cannot record a step result');
  }
}
