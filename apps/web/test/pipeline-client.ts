// What fly sends for pipelines (concourse-api.md §6.4–6.11), for tests: real HTTP requests, exact headers.
import { bearer, request, type Reply } from './http-client.js';

/** `?vars.<key>=<json>` for instance vars, as fly encodes them (empty when none). */
export function varsQuery(instanceVars?: Record<string, unknown>): string {
  if (!instanceVars) return '';
  const params = new URLSearchParams(
    Object.entries(instanceVars).map(([key, value]): [string, string] => [
      `vars.${key}`,
      JSON.stringify(value),
    ]),
  );
  return params.toString();
}

export function pipelineUrl(
  base: string,
  team: string,
  pipeline: string,
  suffix = '',
  instanceVars?: Record<string, unknown>,
): string {
  const query = varsQuery(instanceVars);
  return `${base}/api/v1/teams/${encodeURIComponent(team)}/pipelines/${encodeURIComponent(pipeline)}${suffix}${query ? `?${query}` : ''}`;
}

/** `PUT P/config` exactly as `fly set-pipeline` sends it: YAML text, the version header (empty when new). */
export function putConfig(
  base: string,
  token: string | undefined,
  team: string,
  pipeline: string,
  yaml: string,
  options: {
    version?: string;
    contentType?: string;
    instanceVars?: Record<string, unknown>;
    checkCreds?: boolean;
  } = {},
): Promise<Reply> {
  let url = pipelineUrl(base, team, pipeline, '/config', options.instanceVars);
  if (options.checkCreds) url += url.includes('?') ? '&check_creds=' : '?check_creds=';
  return request(url, {
    method: 'PUT',
    headers: {
      ...(token ? bearer(token) : {}),
      'content-type': options.contentType ?? 'application/x-yaml',
      'x-concourse-config-version': options.version ?? '',
    },
    body: yaml,
  });
}

/** GET config, then PUT with the version it returned (or empty when new): fly's set-pipeline exchange. */
export async function setPipeline(
  base: string,
  token: string,
  team: string,
  pipeline: string,
  yaml: string,
  instanceVars?: Record<string, unknown>,
): Promise<Reply> {
  const current = await request(pipelineUrl(base, team, pipeline, '/config', instanceVars), {
    headers: bearer(token),
  });
  const version = current.status === 200 ? (current.headers.get('x-concourse-config-version') ?? '') : '';
  const saved = await putConfig(base, token, team, pipeline, yaml, {
    version,
    ...(instanceVars ? { instanceVars } : {}),
  });
  if (saved.status !== 200 && saved.status !== 201)
    throw new Error(`set-pipeline failed: ${saved.status} ${saved.text}`);
  return saved;
}

/** A request with a token (or anonymous) and an optional JSON body. */
export function call(url: string, token: string | undefined, method = 'GET', body?: unknown): Promise<Reply> {
  return request(url, {
    method,
    headers: {
      ...(token ? bearer(token) : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}
