import { sql, type Kysely } from 'kysely';

/**
 * `build_step_results`: what each leaf step (task, get, put) of a running build left for the steps after it,
 * written as the step starts and when it ends — the engine otherwise keeps it in memory only. A web node
 * taking over a build after the node running it died replays the plan from the top: a step with a finished
 * row returns that result at once (no pod, no events), the step that was running is collected from its pod
 * and finished here, and the rest of the plan runs (apps/web/src/builds/step-journal.ts). A build's rows are
 * deleted once it is finished.
 *
 * - `artifacts`: the artifacts the step registers, by name → volume handle (a task's outputs are known when
 *   its container starts, so a node collecting the task after a restart can register them).
 * - `finished`: false while the step runs; `succeeded`, `exit_status`, `result` (the plan's stored result:
 *   a get's `{name, version}`, a put's version) and `metadata` (a get's metadata, the `((.:name.key))` local
 *   var) once it ended. Never any secret: versions and metadata are public in Concourse's UI too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table build_step_results (
      build_id integer not null references builds (id) on delete cascade,
      plan_id text not null,
      artifacts jsonb not null default '{}',
      finished boolean not null default false,
      succeeded boolean,
      exit_status integer,
      result jsonb,
      metadata jsonb,
      updated_at timestamptz not null default now(),
      primary key (build_id, plan_id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table build_step_results`.execute(db);
}
