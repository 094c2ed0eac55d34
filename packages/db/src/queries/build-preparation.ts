// What `GET /api/v1/builds/:id/preparation` is made of (Concourse's atc/db/build.go `Preparation`): the
// state of a pending job build's job and pipeline, and the job's next-build inputs as the scheduler last
// resolved them. The scheduler package turns this into the BuildPreparation statuses.
import type { Kysely } from 'kysely';
import type { BuildStatus, Database } from '../schema.js';

export interface BuildPreparationState {
  buildId: number;
  status: BuildStatus;
  /** Null for one-off and check builds. */
  jobId: number | null;
  manuallyTriggered: boolean;
  createdAt: Date;
  pipelinePaused: boolean;
  jobPaused: boolean;
  maxInFlightReached: boolean;
  /** Input names of the job's config, in name order. */
  configInputNames: string[];
  /** The job's next-build inputs: resolved ones with their resource, unresolved ones with the reason. */
  nextInputs: Array<{
    name: string;
    resourceId: number | null;
    resolveError: string | null;
    /** When the resource's last check ended (null: never). */
    lastCheckEndTime: Date | null;
  }>;
}

/** Undefined when the build does not exist. */
export async function findBuildPreparationState(
  db: Kysely<Database>,
  buildId: number,
): Promise<BuildPreparationState | undefined> {
  const build = await db
    .selectFrom('builds as b')
    .leftJoin('jobs as j', 'j.id', 'b.job_id')
    .leftJoin('pipelines as p', 'p.id', 'j.pipeline_id')
    .select([
      'b.id',
      'b.status',
      'b.job_id',
      'b.manually_triggered',
      'b.created_at',
      'j.paused as job_paused',
      'j.max_in_flight_reached',
      'p.paused as pipeline_paused',
    ])
    .where('b.id', '=', buildId)
    .executeTakeFirst();
  if (!build) return undefined;
  const state: BuildPreparationState = {
    buildId: build.id,
    status: build.status,
    jobId: build.job_id,
    manuallyTriggered: build.manually_triggered,
    createdAt: build.created_at,
    pipelinePaused: build.pipeline_paused === true,
    jobPaused: build.job_paused === true,
    maxInFlightReached: build.max_in_flight_reached === true,
    configInputNames: [],
    nextInputs: [],
  };
  if (build.job_id === null || build.status !== 'pending') return state;

  const configInputs = await db
    .selectFrom('job_inputs')
    .select('name')
    .distinct()
    .where('job_id', '=', build.job_id)
    .orderBy('name')
    .execute();
  state.configInputNames = configInputs.map((row) => row.name);
  const nextInputs = await db
    .selectFrom('next_build_inputs as n')
    .leftJoin('resources as r', 'r.id', 'n.resource_id')
    .leftJoin('resource_config_scopes as s', 's.id', 'r.resource_config_scope_id')
    .select(['n.input_name', 'n.resource_id', 'n.resolve_error', 's.last_check_end_time'])
    .where('n.job_id', '=', build.job_id)
    .orderBy('n.input_name')
    .execute();
  state.nextInputs = nextInputs.map((row) => ({
    name: row.input_name,
    resourceId: row.resource_id,
    resolveError: row.resolve_error,
    lastCheckEndTime: row.last_check_end_time ?? null,
  }));
  return state;
}
