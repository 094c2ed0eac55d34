// The pipeline a request names: `:team_name`, `:pipeline_name`, and the instance vars of its query string
// (`?vars.branch="main"` or `?vars={...}`, concourse-api.md §0.1). Shared by the access check (PIPE and
// archived-pipeline rules) and the handlers of team-scoped pipeline routes.
import {
  findPipelineByTeamName,
  type Json,
  type Kysely,
  type Database,
  type PipelineWithoutConfig,
} from '@jetbridge/db';
import { instanceVarsFromQueryParams, InstanceVarsQueryError } from '@jetbridge/pipeline-config';
import type { FastifyRequest } from 'fastify';

/** The raw query string as URLSearchParams: repeated keys and bare keys (`?check_creds=`) preserved. */
export function requestQuery(request: FastifyRequest): URLSearchParams {
  const mark = request.url.indexOf('?');
  return new URLSearchParams(mark === -1 ? '' : request.url.slice(mark + 1));
}

export type InstanceVarsResult =
  { ok: true; instanceVars: Record<string, Json> | null } | { ok: false; message: string };

/** The instance vars of the query (null for a plain pipeline), or why they are malformed. */
export function requestedInstanceVars(request: FastifyRequest): InstanceVarsResult {
  try {
    const vars = instanceVarsFromQueryParams(requestQuery(request));
    return { ok: true, instanceVars: vars === undefined ? null : (vars as Record<string, Json>) };
  } catch (err) {
    if (err instanceof InstanceVarsQueryError) return { ok: false, message: err.message };
    if (err instanceof SyntaxError) return { ok: false, message: err.message };
    throw err;
  }
}

export function pathParam(request: FastifyRequest, name: string): string {
  const params = request.params as Record<string, unknown> | undefined;
  const value = params?.[name];
  return typeof value === 'string' ? value : '';
}

export type RequestedPipeline =
  | { found: true; pipeline: PipelineWithoutConfig }
  | { found: false; reason: 'bad-instance-vars'; message: string }
  /** No such team, or no such pipeline in it: both answer 404. */
  | { found: false; reason: 'not-found' };

/**
 * Look up the pipeline `:pipeline_name` of `:team_name` (any letter case, as Concourse's FindTeam): one query
 * for both, as this runs on every pipeline-scoped request — hence also without the pipeline's config (the JSON of
 * all its jobs and resources), which a route showing it reads itself.
 */
export async function findRequestedPipeline(
  request: FastifyRequest,
  db: Kysely<Database>,
): Promise<RequestedPipeline> {
  const vars = requestedInstanceVars(request);
  if (!vars.ok) return { found: false, reason: 'bad-instance-vars', message: vars.message };
  const pipeline = await findPipelineByTeamName(
    db,
    pathParam(request, 'team_name'),
    pathParam(request, 'pipeline_name'),
    vars.instanceVars,
  );
  return pipeline ? { found: true, pipeline } : { found: false, reason: 'not-found' };
}
