// The inputs and outputs a job summary shows (`atc.JobSummary`'s `inputs`, `outputs`), kept on the job row as
// JSON (migration 0008). They change only when the pipeline's config is saved — job_inputs and job_outputs are
// rewritten there, and resources and jobs renamed — so they are aggregated then, once, instead of on every
// read of the job lists (aggregating them was most of PostgreSQL's work for a list: docs/performance.md).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Recompute `summary_inputs` and `summary_outputs` of every job of a pipeline from its job_inputs and
 * job_outputs: inputs as `[name, resource, passed job names in job-id order, trigger]` sorted by name, outputs as
 * `[name, resource]` sorted by name; null when none. Call after anything that changes those rows or the names
 * of the pipeline's jobs or resources, in the same transaction. Locks the job rows in id order.
 */
export async function refreshJobSummaryInputsAndOutputs(
  db: Kysely<Database>,
  pipelineId: number,
): Promise<void> {
  await sql`
    with picked as (
      select id from jobs where pipeline_id = ${pipelineId} order by id for update
    ),
    input_rows as (
      select ji.job_id, ji.name, r.name as resource, ji.trigger,
        array_remove(array_agg(pj.name order by pj.id), null) as passed
      from picked j
      join job_inputs ji on ji.job_id = j.id
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
      from picked j
      join job_outputs jo on jo.job_id = j.id
      join resources r on r.id = jo.resource_id
      group by jo.job_id
    )
    update jobs j set summary_inputs = i.inputs, summary_outputs = o.outputs
    from picked pk
    left join inputs i on i.job_id = pk.id
    left join outputs o on o.job_id = pk.id
    where j.id = pk.id`.execute(db);
}
