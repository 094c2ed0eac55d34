// `build_step_results`: the step journal of running builds (migrations 0005, 0006). The engine records each
// task/get/put step as it starts and ends; a node collecting a build's steps after a restart finishes the rows
// of what it collected; a node resuming the build replays the finished rows (apps/web builds/step-journal.ts).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** A get's metadata as recorded: its `((.:<name>.<field>))` local var. */
export interface StepMetadata {
  name: string;
  fields: Array<{ name: string; value: string }>;
}

/** How a step ended, as the engine recorded it. */
export interface FinishedStepResult {
  succeeded: boolean;
  exitStatus?: number;
  /** Name → volume handle. */
  artifacts: Record<string, string>;
  result?: unknown;
  metadata?: StepMetadata;
}

/** A resource script's end, collected from its pod after a restart (its JSON response on stdout). */
export interface CollectedStepOutput {
  exitStatus: number;
  stdout: string;
}

/** A row a resumed build replays: a finished step, or a resource step whose script's end was collected. */
export type StoredStepResult =
  | { planId: string; kind: 'finished'; result: FinishedStepResult }
  | { planId: string; kind: 'collected'; artifacts: Record<string, string>; output: CollectedStepOutput };

interface StepResultRow {
  plan_id: string;
  artifacts: Record<string, string>;
  finished: boolean;
  succeeded: boolean | null;
  exit_status: number | null;
  result: unknown;
  metadata: StepMetadata | null;
  collected: { exit_status: number; stdout: string } | null;
}

/** A step is about to start its process; `artifacts` are those it will register. Resets an earlier row. */
export async function recordStepStarting(
  db: Kysely<Database>,
  buildId: number,
  planId: string,
  artifacts: Record<string, string>,
): Promise<void> {
  await sql`
    insert into build_step_results (build_id, plan_id, artifacts)
    values (${buildId}, ${planId}, ${JSON.stringify(artifacts)}::jsonb)
    on conflict (build_id, plan_id) do update
      set artifacts = excluded.artifacts, finished = false, succeeded = null, exit_status = null,
          result = null, metadata = null, collected = null, updated_at = now()
  `.execute(db);
}

/** A step ended. */
export async function recordStepFinished(
  db: Kysely<Database>,
  buildId: number,
  planId: string,
  step: FinishedStepResult,
): Promise<void> {
  await sql`
    insert into build_step_results
      (build_id, plan_id, artifacts, finished, succeeded, exit_status, result, metadata)
    values (
      ${buildId}, ${planId}, ${JSON.stringify(step.artifacts)}::jsonb, true, ${step.succeeded},
      ${step.exitStatus ?? null}, ${jsonOrNull(step.result)}::jsonb, ${jsonOrNull(step.metadata)}::jsonb
    )
    on conflict (build_id, plan_id) do update
      set artifacts = excluded.artifacts, finished = true, succeeded = excluded.succeeded,
          exit_status = excluded.exit_status, result = excluded.result, metadata = excluded.metadata,
          collected = null, updated_at = now()
  `.execute(db);
}

/** What a resumed build replays: its finished steps and its collected resource scripts. */
export async function listReplayableStepResults(
  db: Kysely<Database>,
  buildId: number,
): Promise<StoredStepResult[]> {
  const rows = await sql<StepResultRow>`
    select plan_id, artifacts, finished, succeeded, exit_status, result, metadata, collected
    from build_step_results where build_id = ${buildId} and (finished or collected is not null)
  `.execute(db);
  return rows.rows.map((row): StoredStepResult => {
    if (row.finished || row.collected === null) {
      return { planId: row.plan_id, kind: 'finished', result: finishedResultOf(row) };
    }
    return {
      planId: row.plan_id,
      kind: 'collected',
      artifacts: row.artifacts,
      output: { exitStatus: row.collected.exit_status, stdout: row.collected.stdout },
    };
  });
}

/**
 * A task collected from its pod after a restart ended with `exitStatus`: its started row becomes finished,
 * with the outputs recorded as it started. False when it has no such row (it cannot be replayed).
 */
export async function finishCollectedTaskStep(
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

/**
 * A resource script collected from its pod after a restart: kept on its started row for the step to finish
 * when the build goes on. False when it has no such row, or one already finished (it cannot be replayed).
 */
export async function recordCollectedStepOutput(
  db: Kysely<Database>,
  buildId: number,
  planId: string,
  output: CollectedStepOutput,
): Promise<boolean> {
  const collected = JSON.stringify({ exit_status: output.exitStatus, stdout: output.stdout });
  const updated = await sql`
    update build_step_results set collected = ${collected}::jsonb, updated_at = now()
    where build_id = ${buildId} and plan_id = ${planId} and not finished
  `.execute(db);
  return (updated.numAffectedRows ?? 0n) > 0n;
}

/** The plan ids of the steps of `buildId` recorded as finished (their pods have nothing left to collect). */
export async function listFinishedStepPlanIds(db: Kysely<Database>, buildId: number): Promise<Set<string>> {
  const rows = await sql<{ plan_id: string }>`
    select plan_id from build_step_results where build_id = ${buildId} and finished
  `.execute(db);
  return new Set(rows.rows.map((row) => row.plan_id));
}

/** A finished build's rows: nothing replays them any more. */
export async function deleteStepResults(db: Kysely<Database>, buildId: number): Promise<void> {
  await sql`delete from build_step_results where build_id = ${buildId}`.execute(db);
}

function finishedResultOf(row: StepResultRow): FinishedStepResult {
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
