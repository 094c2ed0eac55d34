import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AccessRule } from '../src/auth/access-rule.js';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { bearer, probeStatus, request } from './http-client.js';

/**
 * Role enforcement over every registered route, whoever added it: the test reads `app.registeredRoutes`, so
 * a new route is covered the moment it is registered.
 *
 * Path parameters are filled generically: `:team_name` with a team on which alice is only a viewer,
 * `:build_id` with a real build of that team, `:pipeline_name` (and its job, resource and version) with a
 * real private pipeline of that team (pipeline rules look the pipeline up before judging the caller), any
 * other `:param` with a placeholder, and `*` with a placeholder. Access checks run before handlers look
 * anything else up, so placeholders never decide the answer. Requests carry no body: the check also runs
 * before the body is read.
 */
let ts: TestServer;
let alice: string;
let buildId: number;
const VIEWER_TEAM = 'alice-views';
const PIPELINE = 'probe-pipeline';
const PIPELINE_YAML = `
resources: [{name: probe-resource, type: git, source: {uri: https://example.com/x.git}}]
jobs: [{name: probe-job, plan: [{get: probe-resource}]}]
`;

beforeAll(async () => {
  ts = await startTestServer();
  const admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
  const created = await request(`${ts.url}/api/v1/teams/${VIEWER_TEAM}`, {
    method: 'PUT',
    headers: { ...bearer(admin), 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: { owner: { users: ['local:admin'], groups: [] }, viewer: { users: ['local:alice'], groups: [] } },
    }),
  });
  expect(created.status).toBe(201);
  const teamId = created.json<{ team: { id: number } }>().team.id;
  const build = await ts.server.ctx.db
    .insertInto('builds')
    .values({ name: '1', team_id: teamId, status: 'succeeded' })
    .returning('id')
    .executeTakeFirstOrThrow();
  buildId = build.id;
  const pipeline = await request(`${ts.url}/api/v1/teams/${VIEWER_TEAM}/pipelines/${PIPELINE}/config`, {
    method: 'PUT',
    headers: { ...bearer(admin), 'content-type': 'application/x-yaml', 'x-concourse-config-version': '' },
    body: PIPELINE_YAML,
  });
  expect(pipeline.status).toBe(201);
});

afterAll(async () => {
  await ts?.destroy();
});

function concretePath(url: string): string {
  return url
    .split('/')
    .map((segment) => {
      if (segment === ':team_name') return VIEWER_TEAM;
      if (segment === ':build_id') return String(buildId);
      if (segment === ':pipeline_name') return PIPELINE;
      if (segment === ':job_name') return 'probe-job';
      if (segment === ':resource_name') return 'probe-resource';
      if (segment === ':resource_config_version_id') return '1';
      if (segment.startsWith(':')) return 'jetbridge-probe';
      if (segment === '*') return 'probe';
      return segment;
    })
    .join('/');
}

/** Whether anonymous callers are turned away (401) by the rule itself. */
function needsLogin(rule: AccessRule): boolean {
  switch (rule.kind) {
    case 'public':
    case 'open':
      return false;
    case 'authenticated':
    case 'any-team':
    case 'team':
    case 'admin':
    case 'build-read':
    case 'build-write':
    case 'pipeline':
    case 'team-pipeline':
      return true;
  }
}

/** Whether a viewer of the route's team (and of the build's team) is refused (403). */
function needsMoreThanViewer(rule: AccessRule): boolean {
  switch (rule.kind) {
    case 'public':
    case 'open':
    case 'authenticated':
    case 'any-team':
    case 'build-read':
    case 'pipeline':
      return false;
    case 'team':
    case 'build-write':
    case 'team-pipeline':
      return rule.role !== 'viewer';
    case 'admin':
      return true;
  }
}

describe('access rules of every registered route', () => {
  it('has routes to check, each with a rule', () => {
    const routes = ts.server.app.registeredRoutes;
    expect(routes.length).toBeGreaterThan(5);
    for (const route of routes) expect(route.access).toBeDefined();
    expect(routes).toContainEqual({
      method: 'PUT',
      url: '/api/v1/teams/:team_name',
      access: { kind: 'team', role: 'owner' },
    });
    // Pipeline routes, including the config route registered in its own parser context.
    expect(routes).toEqual(
      expect.arrayContaining([
        {
          method: 'PUT',
          url: '/api/v1/teams/:team_name/pipelines/:pipeline_name/config',
          access: { kind: 'team', role: 'member' },
        },
        {
          method: 'GET',
          url: '/api/v1/teams/:team_name/pipelines/:pipeline_name',
          access: { kind: 'pipeline' },
        },
        {
          method: 'PUT',
          url: '/api/v1/teams/:team_name/pipelines/:pipeline_name/pause',
          access: { kind: 'team-pipeline', role: 'pipeline-operator' },
        },
      ]),
    );
  });

  it('answers 401 without a token unless the route is open', async () => {
    const failures: string[] = [];
    for (const route of ts.server.app.registeredRoutes) {
      if (!needsLogin(route.access)) continue;
      const status = await probeStatus(`${ts.url}${concretePath(route.url)}`, { method: route.method });
      if (status !== 401) failures.push(`${route.method} ${route.url}: ${status}`);
    }
    expect(failures).toEqual([]);
  });

  it('answers 401 to a present-but-invalid token everywhere but public routes', async () => {
    const failures: string[] = [];
    for (const route of ts.server.app.registeredRoutes) {
      if (route.access.kind === 'public') continue;
      const status = await probeStatus(`${ts.url}${concretePath(route.url)}`, {
        method: route.method,
        headers: bearer('invalid'),
      });
      if (status !== 401) failures.push(`${route.method} ${route.url}: ${status}`);
    }
    expect(failures).toEqual([]);
  });

  it('answers 403 to a viewer on every route that needs more than viewer', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of ts.server.app.registeredRoutes) {
      if (!needsMoreThanViewer(route.access)) continue;
      checked += 1;
      const status = await probeStatus(`${ts.url}${concretePath(route.url)}`, {
        method: route.method,
        headers: bearer(alice),
      });
      if (status !== 403) failures.push(`${route.method} ${route.url}: ${status}`);
    }
    expect(checked).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it('lets the viewer through viewer-level reads of her team', async () => {
    const failures: string[] = [];
    for (const route of ts.server.app.registeredRoutes) {
      const rule = route.access;
      const viewerRead =
        rule.kind === 'build-read' ||
        rule.kind === 'pipeline' ||
        (rule.kind === 'team' && rule.role === 'viewer');
      if (route.method !== 'GET' || !viewerRead) continue;
      const status = await probeStatus(`${ts.url}${concretePath(route.url)}`, { headers: bearer(alice) });
      if (status === 401 || status === 403) failures.push(`${route.method} ${route.url}: ${status}`);
    }
    expect(failures).toEqual([]);
  });

  it('logged nothing at error level', () => {
    expect(ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50)).toEqual([]);
  });
});
