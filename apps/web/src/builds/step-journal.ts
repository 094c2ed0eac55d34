// The engine's step journal (packages/exec step-journal.ts) over `build_step_results`: every build this node
// runs records its task/get/put steps there as they start and end; a build taken over after a restart is run
// again with the rows of its finished steps, which the engine replays instead of running them.
import { sql, type Database, type Kysely } from '@jetbridge/db';
import type { MetadataField, StepJournal, StepRecord } from '@jetbridge/exec';

interface StepResultRow {
  plan_id: string;
  artifacts: Record<string, string>;
  finished: boolean;
  succeeded: boolean | null;
  exit_status: number | null;
  result: unknown;
  metadata: { name: string; fields: MetadataField[] } | null;
}

export class DatabaseStepJournal implements StepJournal {
  private constructor(
    private readonly db: Kysely<Database>,
    private readonly buildId: number,
    private readonly replay: ReadonlyMap<string, StepRecord>,
  ) {}

  /** A fresh build's journal: nothing to replay. */
  static fresh(db: Kysely<Database>, buildId: number): DatabaseStepJournal {
    return new DatabaseStepJournal(db, buildId, new Map());
  }

  /** A resumed build's journal: the steps it finished before are replayed. */
  static async resume(db: Kysely<Database>, buildId: number): Promise<DatabaseStepJournal> {
    const rows = await sql<StepResultRow>`
      select plan_id, artifacts, finished, succeeded, exit_status, result, metadata
      from build_step_results where build_id = ${buildId} and finished
    `.execute(db);
    const replay = new Map<string, StepRecord>();
    for (const row of rows.rows) replay.set(row.plan_id, recordOf(row));
    return new DatabaseStepJournal(db, buildId, replay);
  }

  /** How many steps are replayed. */
  get replayedSteps(): number {
    return this.replay.size;
  }

  finished(planId: string): StepRecord | undefined {
    return this.replay.get(planId);
  }

  async starting(planId: string, artifacts: Record<string, string>): Promise<void> {
    await sql`
      insert into build_step_results (build_id, plan_id, artifacts)
      values (${this.buildId}, ${planId}, ${JSON.stringify(artifacts)}::jsonb)
      on conflict (build_id, plan_id) do update
        set artifacts = excluded.artifacts, finished = false, succeeded = null, exit_status = null,
            result = null, metadata = null, updated_at = now()
    `.execute(this.db);
  }

  async finish(planId: string, record: StepRecord): Promise<void> {
    await sql`
      insert into build_step_results
        (build_id, plan_id, artifacts, finished, succeeded, exit_status, result, metadata)
      values (
        ${this.buildId}, ${planId}, ${JSON.stringify(record.artifacts)}::jsonb, true, ${record.succeeded},
        ${record.exitStatus ?? null}, ${jsonOrNull(record.result)}::jsonb, ${jsonOrNull(record.metadata)}::jsonb
      )
      on conflict (build_id, plan_id) do update
        set artifacts = excluded.artifacts, finished = true, succeeded = excluded.succeeded,
            exit_status = excluded.exit_status, result = excluded.result, metadata = excluded.metadata,
            updated_at = now()
    `.execute(this.db);
  }
}

/**
 * A task collected from its pod after a restart ended with `exitStatus`: its started row becomes finished,
 * with the outputs recorded as it started. False when it has no such row (it cannot be replayed).
 */
export async function finishCollectedTask(
  db: Kysely<Database>,
  buildId: number,
  planId: string,
  exitStatus: number,
): Promise<boolean> {
  const updated = await sql`
    update build_step_results
    set finished = true, succeeded = ${exitStatus === 0}, exit_status = ${exitStatus}, updated_at = now()
    where build_id = ${buildId} and plan_id = ${planId}
  `.execute(db);
  return (updated.numAffectedRows ?? 0n) > 0n;
}

function recordOf(row: StepResultRow): StepRecord {
  return {
    succeeded: row.succeeded === true,
    artifacts: row.artifacts,
    ...(row.exit_status === null ? {} : { exitStatus: row.exit_status }),
    ...(row.result === null ? {} : { result: row.result }),
    ...(row.metadata === null ? {} : { metadata: row.metadata }),
  };
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** The plan ids of the steps of `buildId` recorded as finished (their pods have nothing left to collect). */
export async function finishedPlanIds(db: Kysely<Database>, buildId: number): Promise<Set<string>> {
  const rows = await sql<{ plan_id: string }>`
    select plan_id from build_step_results where build_id = ${buildId} and finished
  `.execute(db);
  return new Set(rows.rows.map((row) => row.plan_id));
}

/** A finished build's rows: nothing replays them any more. */
export async function forgetStepResults(db: Kysely<Database>, buildId: number): Promise<void> {
  await sql`delete from build_step_results where build_id = ${buildId}`.execute(db);
}
