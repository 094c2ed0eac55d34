/**
 * The UI's client-side routes, the same paths as Concourse's web UI so links from fly (`<target>/builds/<id>`)
 * and bookmarks keep working. Pipeline instance vars travel in the query string (`?vars.branch=%22main%22`),
 * passed on to the API as they are.
 */
export type Route =
  | { name: 'dashboard' }
  | { name: 'builds' }
  | { name: 'build'; id: number }
  | { name: 'pipeline'; team: string; pipeline: string }
  | { name: 'job'; team: string; pipeline: string; job: string }
  | { name: 'job-build'; team: string; pipeline: string; job: string; build: string }
  | { name: 'resource'; team: string; pipeline: string; resource: string }
  | { name: 'login' }
  | { name: 'not-found'; path: string };

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function parseRoute(pathname: string): Route {
  const raw = pathname.replace(/\/+$/, '').split('/').slice(1);
  const parts = raw.map(decodeSegment);
  if (parts.some((p) => p === undefined || p === '')) return { name: 'not-found', path: pathname };
  const p = parts as string[];
  if (p.length === 0) return { name: 'dashboard' };
  if (p.length === 1 && p[0] === 'builds') return { name: 'builds' };
  if (p.length === 1 && p[0] === 'login') return { name: 'login' };
  if (p.length === 2 && p[0] === 'builds' && /^\d+$/.test(p[1] ?? ''))
    return { name: 'build', id: Number(p[1]) };
  if (p[0] === 'teams' && p[2] === 'pipelines' && p.length >= 4) {
    const team = p[1] ?? '';
    const pipeline = p[3] ?? '';
    if (p.length === 4) return { name: 'pipeline', team, pipeline };
    if (p.length === 6 && p[4] === 'jobs') return { name: 'job', team, pipeline, job: p[5] ?? '' };
    if (p.length === 8 && p[4] === 'jobs' && p[6] === 'builds') {
      return { name: 'job-build', team, pipeline, job: p[5] ?? '', build: p[7] ?? '' };
    }
    if (p.length === 6 && p[4] === 'resources')
      return { name: 'resource', team, pipeline, resource: p[5] ?? '' };
  }
  return { name: 'not-found', path: pathname };
}

const e = encodeURIComponent;

export function pipelinePath(team: string, pipeline: string): string {
  return `/teams/${e(team)}/pipelines/${e(pipeline)}`;
}

export function jobPath(team: string, pipeline: string, job: string): string {
  return `${pipelinePath(team, pipeline)}/jobs/${e(job)}`;
}

export function jobBuildPath(team: string, pipeline: string, job: string, build: string): string {
  return `${jobPath(team, pipeline, job)}/builds/${e(build)}`;
}

export function resourcePath(team: string, pipeline: string, resource: string): string {
  return `${pipelinePath(team, pipeline)}/resources/${e(resource)}`;
}

/** Where a build's page is: under its job for job builds, `/builds/<id>` for one-off and check builds. */
export function buildPath(build: {
  id: number;
  name: string;
  team_name: string;
  pipeline_name?: string;
  job_name?: string;
}): string {
  if (build.pipeline_name && build.job_name) {
    return jobBuildPath(build.team_name, build.pipeline_name, build.job_name, build.name);
  }
  return `/builds/${build.id}`;
}

/** The `vars` / `vars.*` parameters of a query string, to pass on to pipeline-scoped API calls. */
export function instanceVarsQuery(search: string): string {
  const params = new URLSearchParams(search);
  const kept = new URLSearchParams();
  for (const [key, value] of params) {
    if (key === 'vars' || key.startsWith('vars.')) kept.append(key, value);
  }
  const text = kept.toString();
  return text === '' ? '' : `?${text}`;
}
