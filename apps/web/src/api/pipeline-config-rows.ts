// What a validated pipeline config stores (Concourse's team.go `savePipeline` helpers): the config in Go's
// encoding, plus one row per resource, resource type and job with the facts the scheduler and the API read
// without decoding configs (pins, serial groups, UI groups, inputs with `passed` resolved to job names).
// Pure: the set_pipeline step can reuse it to save through the same `savePipeline` query.
import type { Json, SavedJob, SavedPipelineConfig, SavedResource, VersionJson } from '@jetbridge/db';
import {
  compileJobGlob,
  effectiveMaxInFlight,
  effectiveSerialGroups,
  goPathMatch,
  jobInputs,
  jobOutputs,
  toConfigJson,
  type ConfigJson,
  type JobConfig,
  type PipelineConfig,
} from '@jetbridge/pipeline-config';

export function pipelineConfigRows(config: PipelineConfig): SavedPipelineConfig {
  const json = toConfigJson(config);
  const resourcesJson = (json['resources'] ?? []) as ConfigJson[];
  const typesJson = (json['resource_types'] ?? []) as ConfigJson[];
  const jobsJson = (json['jobs'] ?? []) as ConfigJson[];
  const jobNames = (config.jobs ?? []).map((job) => job.name);

  const resources: SavedResource[] = (config.resources ?? []).map((resource, index) => ({
    name: resource.name,
    ...(resource.old_name ? { oldName: resource.old_name } : {}),
    type: resource.type,
    config: asJsonObject(resourcesJson[index]),
    public: resource.public === true,
    checkEvery: resource.check_every ? resource.check_every : null,
    webhookToken: resource.webhook_token ? resource.webhook_token : null,
    pinnedVersion:
      resource.version && Object.keys(resource.version).length > 0 ? (resource.version as VersionJson) : null,
  }));

  const resourceTypes = (config.resource_types ?? []).map((resourceType, index) => ({
    name: resourceType.name,
    type: resourceType.type,
    config: asJsonObject(typesJson[index]),
  }));

  const jobs: SavedJob[] = (config.jobs ?? []).map((job, index) => ({
    name: job.name,
    ...(job.old_name ? { oldName: job.old_name } : {}),
    config: asJsonObject(jobsJson[index]),
    public: job.public === true,
    maxInFlight: effectiveMaxInFlight(job),
    disableManualTrigger: job.disable_manual_trigger === true,
    disableReruns: job.disable_reruns === true,
    interruptible: job.interruptible === true,
    serialGroups: effectiveSerialGroups(job),
    groups: uiGroupsOf(config, job),
    inputs: jobInputs(job).map((input) => ({
      name: input.name,
      resource: input.resource,
      passedJobs: (input.passed ?? []).flatMap((glob) => jobNames.filter((name) => goPathMatch(glob, name))),
      trigger: input.trigger,
      version: input.version === undefined || input.version === '' ? null : (input.version as Json),
    })),
    outputs: jobOutputs(job),
  }));

  return {
    config: json as Record<string, Json>,
    groups: (json['groups'] as Json[] | undefined) ?? null,
    display: (json['display'] as Record<string, Json> | undefined) ?? null,
    userData: (json['user_data'] as Json | undefined) ?? null,
    resources,
    resourceTypes,
    jobs,
  };
}

/** The groups whose job globs match the job, once per matching glob, as Concourse records them. */
function uiGroupsOf(config: PipelineConfig, job: JobConfig): string[] {
  const groups: string[] = [];
  for (const group of config.groups ?? []) {
    for (const pattern of group.jobs ?? []) {
      if (compileJobGlob(pattern)?.(job.name)) groups.push(group.name);
    }
  }
  return groups;
}

function asJsonObject(value: ConfigJson | undefined): Record<string, Json> {
  return (value ?? {}) as Record<string, Json>;
}
