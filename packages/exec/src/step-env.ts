// The environment of resource containers (get, put, check): Concourse's StepMetadata.Env
// (atc/exec/step_metadata.go). A variable is set only when its value is non-empty (ids: non-zero).
import { instanceVarsToQueryParams } from '@jetbridge/pipeline-config';
import { goJsonMarshal } from './go-json.js';
import type { BuildIdentity } from './run-state.js';

/** The status a hook's steps see as BUILD_STATUS `[v8.2+]`: that of the step they hook (ensure: none). */
export type HookBuildStatus = 'succeeded' | 'failed' | 'errored' | 'aborted';

export interface StepEnvOptions {
  externalUrl?: string;
  buildStatus?: HookBuildStatus;
  /** Put steps with `expose_build_created_by`. */
  exposeCreatedBy?: boolean;
}

export function resourceStepEnv(build: BuildIdentity, options: StepEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '' && value !== 0) env[name] = String(value);
  };
  set('BUILD_STATUS', options.buildStatus);
  set('BUILD_ID', build.id);
  set('BUILD_NAME', build.name);
  set('BUILD_TEAM_ID', build.teamId);
  set('BUILD_TEAM_NAME', build.teamName);
  set('BUILD_JOB_ID', build.jobId);
  set('BUILD_JOB_NAME', build.jobName);
  set('BUILD_PIPELINE_ID', build.pipelineId);
  set('BUILD_PIPELINE_NAME', build.pipelineName);
  if (build.pipelineInstanceVars !== undefined) {
    env['BUILD_PIPELINE_INSTANCE_VARS'] = goJsonMarshal(build.pipelineInstanceVars);
  }
  const externalUrl = options.externalUrl;
  if (externalUrl !== undefined && externalUrl !== '') {
    env['ATC_EXTERNAL_URL'] = externalUrl;
    if (build.id !== 0) {
      const short = `${externalUrl}/builds/${build.id}`;
      env['BUILD_URL'] = buildUrl(build, externalUrl) ?? short;
      env['BUILD_URL_SHORT'] = short;
    }
  }
  if (options.exposeCreatedBy) set('BUILD_CREATED_BY', build.createdBy);
  return env;
}

/** `<ext>/teams/T/pipelines/P/jobs/J/builds/N[?vars.k=v…]` for job builds. */
function buildUrl(build: BuildIdentity, externalUrl: string): string | undefined {
  const { teamName, pipelineName, jobName, name } = build;
  if (!teamName || !pipelineName || !jobName || !name) return undefined;
  const url = `${externalUrl}/teams/${teamName}/pipelines/${pipelineName}/jobs/${jobName}/builds/${name}`;
  const query =
    build.pipelineInstanceVars === undefined ? [] : instanceVarsToQueryParams(build.pipelineInstanceVars);
  if (query.length === 0) return url;
  // url.Values.Encode: sorted by key, each part query-escaped.
  const encoded = [...query]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${goQueryEscape(key)}=${goQueryEscape(value)}`);
  return `${url}?${encoded.join('&')}`;
}

/** Go's url.QueryEscape: unreserved characters stay, a space becomes `+`, every other byte is %XX. */
function goQueryEscape(text: string): string {
  let escaped = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(char)) escaped += char;
    else if (char === ' ') escaped += '+';
    else escaped += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return escaped;
}
