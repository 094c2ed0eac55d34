// Job summaries for lists (`atc.JobSummary`: the pipeline's job list, the dashboard's /api/v1/jobs) in one
// query: each active job with its finished and next build, its inputs and outputs — only the columns the
// summary shows (no job config, no build plans), times as Unix seconds, inputs and outputs aggregated per job.
// A list of 100 jobs is read often (dashboards poll it), so it must not cost a round trip per kind of detail,
// nor a search of each job's builds, nor aggregating each job's inputs and outputs: the finished and next
// builds are the ids stored on the job row (migration 0007), joined by primary key, and the inputs and
// outputs the JSON stored with it when the config was saved (migration 0008, ./job-summary-io.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, Json } from '../schema.js';
import { markPrepared } from '../prepared-statements.js';

/** A build as the summary shows it; team, pipeline and job names are the job's (a job's builds share them). */
export interface JobSummaryBuild {
  id: number;
  name: string;
  status: string;
  /** Unix seconds, floored (Go's `Time.Unix`). */
  startTime: number | null;
  endTime: number | null;
}

export interface JobSummaryRecord {
  id: number;
  name: string;
  pipelineId: number;
  pipelineName: string;
  pipelineInstanceVars: Record<string, Json> | null;
  teamName: string;
  paused: boolean;
  pausedBy: string | null;
  /** Unix seconds, floored. */
  pausedAt: number | null;
  hasNewInputs: boolean;
  groups: string[];
  finishedBuild: JobSummaryBuild | null;
  nextBuild: JobSummaryBuild | null;
  /** Sorted by name; `passed` in job-id order. */
  inputs: Array<{ name: string; resource: string; passed: string[]; trigger: boolean }>;
  /** Sorted by name. */
  outputs: Array<{ name: string; resource: string }>;
}

/** Which jobs: a pipeline's, or those of some teams plus every public pipeline's (all when `teamNames` is undefined). */
export type JobSummaryFilter = { pipelineId: number } | { teamNames: readonly string[] | undefined };

interface SummaryRow {
  id: number;
  name: string;
  pipeline_id: number;
  pipeline_name: string;
  pipeline_instance_vars: Record<string, Json> | null;
  team_name: string;
  paused: boolean;
  paused_by: string | null;
  paused_at: number | null;
  has_new_inputs: boolean;
  groups: string[];
  finished_id: number | null;
  finished_name: string | null;
  finished_status: string | null;
  finished_start: number | null;
  finished_end: number | null;
  next_id: number | null;
  next_name: string | null;
  next_status: string | null;
  next_start: number | null;
  next_end: number | null;
  /** [name, resource, passed, trigger] per input. */
  inputs: Array<[string, string, string[], boolean]> | null;
  /** [name, resource] per output. */
  outputs: Array<[string, string]> | null;
}

function filterClause(filter: JobSummaryFilter): RawBuilder<unknown> {
  if ('pipelineId' in filter) return sql`j.pipeline_id = ${filter.pipelineId}`;
  if (filter.teamNames === undefined) return sql`true`;
  if (filter.teamNames.length === 0) return sql`p.public`;
  return sql`(t.name in (${sql.join(filter.teamNames.map((name) => sql`${name}`))}) or p.public)`;
}

const unixSeconds = (column: RawBuilder<unknown>) => sql`floor(extract(epoch from ${column}))::int8`;

/** Summaries of the active jobs `filter` picks, in job id order, with their finished and next builds. */
export async function listJobSummaries(
  db: Kysely<Database>,
  filter: JobSummaryFilter,
): Promise<JobSummaryRecord[]> {
  // One row per job: its finished and next build by primary key (ids kept on the job row, migration 0007),
  // its inputs and outputs as stored when the config was saved (migration 0008) — nothing aggregated here.
  const query = sql<SummaryRow>`
    select j.id, j.name, j.pipeline_id, p.name as pipeline_name, p.instance_vars as pipeline_instance_vars,
      t.name as team_name, j.paused, j.paused_by, ${unixSeconds(sql`j.paused_at`)} as paused_at,
      j.has_new_inputs, j.groups,
      fb.id as finished_id, fb.name as finished_name, fb.status as finished_status,
      ${unixSeconds(sql`fb.start_time`)} as finished_start, ${unixSeconds(sql`fb.end_time`)} as finished_end,
      nb.id as next_id, nb.name as next_name, nb.status as next_status,
      ${unixSeconds(sql`nb.start_time`)} as next_start, ${unixSeconds(sql`nb.end_time`)} as next_end,
      j.summary_inputs as inputs, j.summary_outputs as outputs
    from jobs j
    join pipelines p on p.id = j.pipeline_id
    join teams t on t.id = p.team_id
    left join builds fb on fb.id = j.latest_completed_build_id
    left join builds nb on nb.id = j.next_build_id
    where j.active and ${filterClause(filter)}
    order by j.id`.compile(db);
  // A pipeline's job list is polled (dashboards, `fly jobs`) and its text is fixed: planning it every time took
  // half as long as running it (docs/performance.md).
  if ('pipelineId' in filter) markPrepared(query.sql);
  const { rows } = await db.executeQuery(query);
  return rows.map(toRecord);
}

function toRecord(row: SummaryRow): JobSummaryRecord {
  return {
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    pipelineName: row.pipeline_name,
    pipelineInstanceVars: row.pipeline_instance_vars,
    teamName: row.team_name,
    paused: row.paused,
    pausedBy: row.paused_by,
    pausedAt: row.paused_at,
    hasNewInputs: row.has_new_inputs,
    groups: row.groups,
    finishedBuild: summaryBuild(row, 'finished'),
    nextBuild: summaryBuild(row, 'next'),
    inputs: (row.inputs ?? []).map(([name, resource, passed, trigger]) => ({
      name,
      resource,
      passed,
      trigger,
    })),
    outputs: (row.outputs ?? []).map(([name, resource]) => ({ name, resource })),
  };
}

/** The job's finished or next build, from the row's `finished_…` or `next_…` columns; null when it has none. */
function summaryBuild(row: SummaryRow, which: 'finished' | 'next'): JobSummaryBuild | null {
  const id = row[`${which}_id` as const];
  if (id === null) return null;
  return {
    id,
    name: row[`${which}_name` as const] ?? '',
    status: row[`${which}_status` as const] ?? '',
    startTime: row[`${which}_start` as const],
    endTime: row[`${which}_end` as const],
  };
}
