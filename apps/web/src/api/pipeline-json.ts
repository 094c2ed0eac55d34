// JSON shapes shared by the pipeline, job and resource areas (concourse-api.md §2.3–2.5; Concourse's
// atc/api/present): pipelines, builds of pipelines, build summaries, and pagination links that carry a
// pipeline's instance vars. Fields are written in Go's struct order, `omitempty` ones left out when empty.
import type { Json, PipelineBuildRecord, PipelineWithoutConfig } from '@jetbridge/db';
import { instanceVarsToQueryParams } from '@jetbridge/pipeline-config';

export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** `atc.Pipeline`. */
export function presentPipeline(pipeline: PipelineWithoutConfig): Record<string, unknown> {
  const json: Record<string, unknown> = { id: pipeline.id, name: pipeline.name };
  if (!isEmpty(pipeline.instanceVars)) json['instance_vars'] = pipeline.instanceVars;
  json['paused'] = pipeline.paused;
  if (pipeline.pausedBy) json['paused_by'] = pipeline.pausedBy;
  if (pipeline.pausedAt) json['paused_at'] = unixSeconds(pipeline.pausedAt);
  json['public'] = pipeline.public;
  json['archived'] = pipeline.archived;
  if (!isEmpty(pipeline.groups)) json['groups'] = pipeline.groups;
  json['team_name'] = pipeline.teamName;
  if (pipeline.display !== null) json['display'] = pipeline.display;
  if (pipeline.userData !== null) json['user_data'] = pipeline.userData;
  if (pipeline.parentBuildId) json['parent_build_id'] = pipeline.parentBuildId;
  if (pipeline.parentJobId) json['parent_job_id'] = pipeline.parentJobId;
  json['last_updated'] = unixSeconds(pipeline.lastUpdated);
  return json;
}

/**
 * `atc.Build` of a pipeline build (`present.Build`). The comment is shown to whoever may see it: anyone
 * when the job is public, else callers authorized on the team (list endpoints pass false, as Concourse
 * passes no accessor there).
 */
export function presentPipelineBuild(
  build: PipelineBuildRecord,
  options: { showComment: boolean },
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: build.id,
    team_name: build.teamName,
    name: build.name,
    status: build.status,
    api_url: `/api/v1/builds/${build.id}`,
  };
  if (options.showComment && build.comment) json['comment'] = build.comment;
  if (build.jobName) json['job_name'] = build.jobName;
  if (build.resourceName) json['resource_name'] = build.resourceName;
  if (build.pipelineId) json['pipeline_id'] = build.pipelineId;
  if (build.pipelineName) json['pipeline_name'] = build.pipelineName;
  if (!isEmpty(build.pipelineInstanceVars)) json['pipeline_instance_vars'] = build.pipelineInstanceVars;
  if (build.startTime) json['start_time'] = unixSeconds(build.startTime);
  if (build.endTime) json['end_time'] = unixSeconds(build.endTime);
  if (build.reapTime) json['reap_time'] = unixSeconds(build.reapTime);
  if (build.rerunOf) {
    if (build.rerunNumber) json['rerun_number'] = build.rerunNumber;
    json['rerun_of'] = build.rerunOfName
      ? { id: build.rerunOf, name: build.rerunOfName }
      : { id: build.rerunOf };
  }
  if (build.createdBy !== null) json['created_by'] = build.createdBy;
  return json;
}

/** `atc.BuildSummary` (job summaries, a resource's check build): like a build, without `api_url`. */
export function presentBuildSummary(build: PipelineBuildRecord): Record<string, unknown> {
  const json: Record<string, unknown> = { id: build.id, name: build.name, status: build.status };
  if (build.startTime) json['start_time'] = unixSeconds(build.startTime);
  if (build.endTime) json['end_time'] = unixSeconds(build.endTime);
  json['team_name'] = build.teamName;
  json['pipeline_id'] = build.pipelineId ?? 0;
  json['pipeline_name'] = build.pipelineName ?? '';
  if (!isEmpty(build.pipelineInstanceVars)) json['pipeline_instance_vars'] = build.pipelineInstanceVars;
  if (build.jobName) json['job_name'] = build.jobName;
  return json;
}

/** The instance vars as fly puts them in a query (`vars.<ref>=<json>`, sorted), e.g. for UI links. */
export function instanceVarsQuery(instanceVars: Record<string, Json> | null): string {
  if (instanceVars === null) return '';
  return new URLSearchParams(instanceVarsToQueryParams(instanceVars)).toString();
}

/** A page's neighbours as `Link` header values (concourse-api.md §7.1), instance vars appended. */
export function pageLinks(
  baseUrl: string,
  page: { olderTo?: number; newerFrom?: number },
  limit: number,
  instanceVars: Record<string, Json> | null,
): string[] {
  const vars = instanceVarsQuery(instanceVars);
  const suffix = vars === '' ? '' : `&${vars}`;
  const links: string[] = [];
  if (page.olderTo !== undefined)
    links.push(`<${baseUrl}?to=${page.olderTo}&limit=${limit}${suffix}>; rel="next"`);
  if (page.newerFrom !== undefined)
    links.push(`<${baseUrl}?from=${page.newerFrom}&limit=${limit}${suffix}>; rel="previous"`);
  return links;
}

/** `/api/v1/teams/T/pipelines/P` for links, names escaped. */
export function pipelinePath(pipeline: PipelineWithoutConfig): string {
  return `/api/v1/teams/${encodeURIComponent(pipeline.teamName)}/pipelines/${encodeURIComponent(pipeline.name)}`;
}
