import { sql, type Kysely } from 'kysely';

/**
 * A job summary's inputs and outputs (`atc.JobSummary`'s `inputs`, `outputs`) stored on the job row as JSON —
 * `summary_inputs`: `[name, resource, passed job names, trigger]` per input sorted by name; `summary_outputs`:
 * `[name, resource]` per output sorted by name; null when none — written when the pipeline's config is saved
 * (queries/job-summary-io.ts), the only time job_inputs, job_outputs and the names they show change. The job
 * lists read them instead of aggregating every job's inputs and outputs on every request. Filled in here from
 * the rows already there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table jobs add column summary_inputs json, add column summary_outputs json`.execute(db);
  await sql`
    with input_rows as (
      select ji.job_id, ji.name, r.name as resource, ji.trigger,
        array_remove(array_agg(pj.name order by pj.id), null) as passed
      from job_inputs ji
      join resources r on r.id = ji.resource_id
      left join jobs pj on pj.id = ji.passed_job_id
      group by ji.job_id, ji.name, r.name, r.id, ji.trigger, ji.version
    ),
    inputs as (
      select job_id, json_agg(json_build_array(name, resource, passed, trigger) order by name) as inputs
      from input_rows group by job_id
    ),
    outputs as (
      select jo.job_id, json_agg(json_build_array(jo.name, r.name) order by jo.name, jo.id) as outputs
      from job_outputs jo
      join resources r on r.id = jo.resource_id
      group by jo.job_id
    )
    update jobs j set summary_inputs = i.inputs, summary_outputs = o.outputs
    from jobs jj
    left join inputs i on i.job_id = jj.id
    left join outputs o on o.job_id = jj.id
    where j.id = jj.id and (i.inputs is not null or o.outputs is not null)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table jobs drop column if exists summary_inputs, drop column if exists summary_outputs`.execute(
    db,
  );
}
