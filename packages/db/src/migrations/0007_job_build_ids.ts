import { sql, type Kysely } from 'kysely';

/**
 * A job's finished and next build, stored on its row (Concourse's `jobs.latest_completed_build_id` and
 * `next_build_id`), so the job lists read one row per job and two builds by primary key instead of searching
 * each job's builds on every request (docs/performance.md, API throughput).
 *
 * - `latest_completed_build_id`: the latest finished build that is not a rerun, or, when it has finished
 *   reruns, the latest of those.
 * - `next_build_id`: the oldest pending or started build that is not a rerun of an older build (a rerun of the
 *   latest finished one counts).
 *
 * They are kept by triggers on `builds`, in the transaction that changes a build, whoever changes it: a job
 * build created, finished (or aborted), moved to another job or rerun target, or deleted recomputes its job's
 * two ids with `refresh_job_build_ids`. Starting a pending build changes neither, so the triggers skip it.
 * The function first locks the job row: a concurrent change of another build of the same job waits for this
 * transaction, and its own recomputation (a later statement, a newer snapshot) then sees this one's build —
 * computed without the lock, two transactions could each overwrite the other's id with a stale one.
 * (Concourse also keeps `transition_build_id`; JetBridge's job JSON does not show a transition build yet, so
 * it is not stored.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table jobs
      add column latest_completed_build_id integer,
      add column next_build_id integer`.execute(db);

  await sql`
    create function refresh_job_build_ids(target_job_id integer) returns void
    language plpgsql as $$
    declare
      latest_non_rerun integer;
      latest_completed integer;
      next_build integer;
    begin
      perform 1 from jobs where id = target_job_id for no key update;
      if not found then
        return;
      end if;
      select max(id) into latest_non_rerun from builds
        where job_id = target_job_id and status not in ('pending', 'started') and rerun_of is null;
      select coalesce(max(id), latest_non_rerun) into latest_completed from builds
        where job_id = target_job_id and rerun_of = latest_non_rerun and status not in ('pending', 'started');
      select min(id) into next_build from builds
        where job_id = target_job_id and status in ('pending', 'started')
          and (rerun_of is null or rerun_of = latest_non_rerun);
      update jobs set latest_completed_build_id = latest_completed, next_build_id = next_build
        where id = target_job_id
          and (latest_completed_build_id, next_build_id) is distinct from (latest_completed, next_build);
    end
    $$`.execute(db);

  await sql`
    create function builds_refresh_job_build_ids() returns trigger
    language plpgsql as $$
    declare
      changed_job_id integer;
    begin
      if tg_op = 'INSERT' then
        perform refresh_job_build_ids(new.job_id);
      elsif tg_op = 'UPDATE' then
        perform refresh_job_build_ids(new.job_id);
        if old.job_id is distinct from new.job_id and old.job_id is not null then
          perform refresh_job_build_ids(old.job_id);
        end if;
      else
        -- Once per job, in job id order, however many of its builds one statement deleted.
        for changed_job_id in
          select distinct job_id from deleted_builds where job_id is not null order by job_id
        loop
          perform refresh_job_build_ids(changed_job_id);
        end loop;
      end if;
      return null;
    end
    $$`.execute(db);

  await sql`
    create trigger builds_job_build_ids_insert after insert on builds
      for each row when (new.job_id is not null)
      execute function builds_refresh_job_build_ids()`.execute(db);
  // A build changing between pending/started and finished, or changing job or rerun target; not one starting.
  await sql`
    create trigger builds_job_build_ids_update after update of status, job_id, rerun_of on builds
      for each row when (
        old.job_id is distinct from new.job_id
        or old.rerun_of is distinct from new.rerun_of
        or (old.status in ('pending', 'started')) is distinct from (new.status in ('pending', 'started'))
      )
      execute function builds_refresh_job_build_ids()`.execute(db);
  await sql`
    create trigger builds_job_build_ids_delete after delete on builds
      referencing old table as deleted_builds
      for each statement
      execute function builds_refresh_job_build_ids()`.execute(db);

  // The ids of the builds already there, as the job lists computed them until now.
  await sql`
    update jobs j set latest_completed_build_id = f.id, next_build_id = n.id
    from jobs jj
    left join lateral (
      select max(b.id) as id from builds b
      where b.job_id = jj.id and b.status not in ('pending', 'started') and b.rerun_of is null
    ) lnr on true
    left join lateral (
      select coalesce(
        (select max(b.id) from builds b
         where b.job_id = jj.id and b.rerun_of = lnr.id and b.status not in ('pending', 'started')),
        lnr.id) as id
    ) f on true
    left join lateral (
      select min(b.id) as id from builds b
      where b.job_id = jj.id and b.status in ('pending', 'started')
        and (b.rerun_of is null or b.rerun_of = lnr.id)
    ) n on true
    where j.id = jj.id and (f.id is not null or n.id is not null)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists builds_job_build_ids_delete on builds`.execute(db);
  await sql`drop trigger if exists builds_job_build_ids_update on builds`.execute(db);
  await sql`drop trigger if exists builds_job_build_ids_insert on builds`.execute(db);
  await sql`drop function if exists builds_refresh_job_build_ids()`.execute(db);
  await sql`drop function if exists refresh_job_build_ids(integer)`.execute(db);
  await sql`
    alter table jobs drop column if exists latest_completed_build_id, drop column if exists next_build_id`.execute(
    db,
  );
}
