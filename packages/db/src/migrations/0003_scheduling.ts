import { sql, type Kysely } from 'kysely';

/**
 * What the scheduler needs beyond 0002 (Concourse's atc/scheduler and the job half of atc/db/job.go):
 *
 * - `builds.scheduled`: a pending build the scheduler let through its max-in-flight check; it counts as
 *   running for its serial groups until it finishes, so no second node starts another in its place.
 * - `jobs.max_in_flight_reached`: the last check refused a pending build (BuildPreparation shows it).
 * - `build_pipes` / `next_build_pipes`: which upstream builds vouched for a build's (or the next build's)
 *   `passed` inputs; `version: every` with `passed` resumes from them.
 * - Indexes for input resolution: a job's succeeded builds in the order the algorithm walks them (reruns at
 *   their original's position), newest first with an early stop; and unfinished builds per job for the
 *   max-in-flight count.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const run = (statement: ReturnType<typeof sql>) => statement.execute(db);

  await run(sql`alter table builds add column scheduled boolean not null default false`);
  await run(sql`alter table jobs add column max_in_flight_reached boolean not null default false`);

  await run(sql`
    create index builds_job_succeeded_order
      on builds (job_id, (coalesce(rerun_of, id)), id)
      where status = 'succeeded' and job_id is not null`);
  await run(sql`
    create index builds_job_unfinished
      on builds (job_id, id)
      where status in ('pending', 'started') and job_id is not null`);

  await run(sql`
    create table build_pipes (
      from_build_id integer not null references builds (id) on delete cascade,
      to_build_id integer not null references builds (id) on delete cascade,
      primary key (to_build_id, from_build_id)
    )`);
  await run(sql`create index build_pipes_from_build_id on build_pipes (from_build_id)`);
  await run(sql`
    create table next_build_pipes (
      to_job_id integer not null references jobs (id) on delete cascade,
      from_build_id integer not null references builds (id) on delete cascade,
      primary key (to_job_id, from_build_id)
    )`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const run = (statement: ReturnType<typeof sql>) => statement.execute(db);
  await run(sql`drop table if exists next_build_pipes`);
  await run(sql`drop table if exists build_pipes`);
  await run(sql`drop index if exists builds_job_unfinished`);
  await run(sql`drop index if exists builds_job_succeeded_order`);
  await run(sql`alter table jobs drop column if exists max_in_flight_reached`);
  await run(sql`alter table builds drop column if exists scheduled`);
}
