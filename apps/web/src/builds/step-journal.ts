// The engine's step journal (packages/exec step-journal.ts) over `build_step_results` (packages/db
// build-step-results queries): every build this node runs records its task/get/put steps there as they start
// and end; a build taken over after a restart is run again with the rows of its finished steps, which the
// engine replays instead of running them, and those of its collected resource scripts, whose responses the
// steps take instead of running the scripts again.
import {
  deleteStepResults,
  finishCollectedTaskStep,
  listFinishedStepPlanIds,
  listReplayableStepResults,
  recordCollectedStepOutput,
  recordStepFinished,
  recordStepStarting,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { CollectedRun, StepJournal, StepRecord } from '@jetbridge/exec';

export class DatabaseStepJournal implements StepJournal {
  private constructor(
    private readonly db: Kysely<Database>,
    private readonly buildId: number,
    private readonly replay: ReadonlyMap<string, StepRecord>,
    private readonly collectedRuns: ReadonlyMap<string, CollectedRun>,
  ) {}

  /** A fresh build's journal: nothing to replay. */
  static fresh(db: Kysely<Database>, buildId: number): DatabaseStepJournal {
    return new DatabaseStepJournal(db, buildId, new Map(), new Map());
  }

  /** A resumed build's journal: the steps it finished before are replayed. */
  static async resume(db: Kysely<Database>, buildId: number): Promise<DatabaseStepJournal> {
    const replay = new Map<string, StepRecord>();
    const collected = new Map<string, CollectedRun>();
    for (const row of await listReplayableStepResults(db, buildId)) {
      if (row.kind === 'finished') replay.set(row.planId, row.result);
      else collected.set(row.planId, { ...row.output, artifacts: row.artifacts });
    }
    return new DatabaseStepJournal(db, buildId, replay, collected);
  }

  /** How many steps are replayed. */
  get replayedSteps(): number {
    return this.replay.size;
  }

  /** How many resource scripts' collected ends are handed to their steps. */
  get collectedSteps(): number {
    return this.collectedRuns.size;
  }

  finished(planId: string): StepRecord | undefined {
    return this.replay.get(planId);
  }

  collected(planId: string): CollectedRun | undefined {
    return this.collectedRuns.get(planId);
  }

  async starting(planId: string, artifacts: Record<string, string>): Promise<void> {
    await recordStepStarting(this.db, this.buildId, planId, artifacts);
  }

  async finish(planId: string, record: StepRecord): Promise<void> {
    await recordStepFinished(this.db, this.buildId, planId, record);
  }
}

/**
 * A task collected from its pod after a restart ended with `exitStatus`: its started row becomes finished,
 * with the outputs recorded as it started. False when it has no such row (it cannot be replayed).
 */
export const finishCollectedTask = finishCollectedTaskStep;

/**
 * A get/put/check script collected from its pod after a restart: its exit status and response are kept for
 * the step, which finishes with them when the build goes on. False when it has no started row.
 */
export const keepCollectedResourceRun = recordCollectedStepOutput;

/** The plan ids of the steps of `buildId` recorded as finished (their pods have nothing left to collect). */
export const finishedPlanIds = listFinishedStepPlanIds;

/** A finished build's rows: nothing replays them any more. */
export const forgetStepResults = deleteStepResults;
