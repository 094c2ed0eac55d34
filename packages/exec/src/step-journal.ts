// What the engine keeps of a finished leaf step (task, get, put) for the steps after it — the artifacts it
// registered, its plan's stored result, a get's metadata — written to a StepJournal as the step starts and
// ends, so that a web node taking over a build after the node running it died can run the plan again from the
// top with every finished step *replayed*: it returns its recorded outcome at once, re-registering what it
// left (no container, no events: those are in the build's log already). Without a journal nothing changes.
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

export interface StepJournal {
  /** The record of `planId` when an earlier run of this build finished it: the step is replayed. */
  finished(planId: string): StepRecord | undefined;
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
