import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { bearer, request } from './http-client.js';

/** Teams as `fly set-team`, `get-team`, `rename-team`, `destroy-team` and `teams` use them (§1.3, §2.2, §6.14). */
let ts: TestServer;
let admin: string;
let alice: string;

beforeAll(async () => {
  // A small body limit so the 413 case is cheap to provoke.
  ts = await startTestServer({ env: { JETBRIDGE_MAX_REQUEST_BODY_SIZE: '64KB' } });
  admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
});

afterAll(async () => {
  await ts?.destroy();
});

const SET_TEAM_BODY = '{"auth":{"owner":{"users":["local:alice"],"groups":[]}}}';

function setTeam(token: string, name: string, body: string = SET_TEAM_BODY) {
  return request(`${ts.url}/api/v1/teams/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body,
  });
}

function errorLines(): Array<Record<string, unknown>> {
  return ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
}

describe('teams', () => {
  it('creates (201), updates (200), gets, renames and destroys a team as fly does', async () => {
    const created = await setTeam(admin, 'avengers');
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    const team = created.json<{ team: { id: number } }>().team;
    expect(created.json()).toEqual({
      team: { id: team.id, name: 'avengers', auth: { owner: { users: ['local:alice'], groups: [] } } },
    });

    const updated = await setTeam(
      admin,
      'avengers',
      '{"auth":{"owner":{"users":["local:alice"],"groups":[]},"viewer":{"users":[],"groups":["github:org"]}}}',
    );
    expect(updated.status).toBe(200);
    expect(updated.json()).toEqual({
      team: {
        id: team.id,
        name: 'avengers',
        auth: {
          owner: { users: ['local:alice'], groups: [] },
          viewer: { users: [], groups: ['github:org'] },
        },
      },
    });

    // alice owns it now: she sees it, and may update it herself.
    const got = await request(`${ts.url}/api/v1/teams/avengers`, { headers: bearer(alice) });
    expect(got.status).toBe(200);
    expect(got.json()).toMatchObject({ id: team.id, name: 'avengers' });
    expect((await request(`${ts.url}/api/v1/teams`, { headers: bearer(alice) })).json()).toEqual([
      got.json(),
    ]);
    expect((await setTeam(alice, 'avengers')).status).toBe(200);
    expect((await request(`${ts.url}/api/v1/user`, { headers: bearer(alice) })).json()).toMatchObject({
      teams: { avengers: ['owner'] },
    });

    const rename = (token: string, from: string, body: unknown) =>
      request(`${ts.url}/api/v1/teams/${from}/rename`, {
        method: 'PUT',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const renamed = await rename(alice, 'avengers', { name: 'defenders' });
    expect(renamed.status).toBe(200);
    expect(renamed.json()).toEqual({});
    expect((await request(`${ts.url}/api/v1/teams/avengers`, { headers: bearer(admin) })).status).toBe(404);
    expect((await rename(alice, 'defenders', { name: 'main' })).status).toBe(409);
    const empty = await rename(alice, 'defenders', { name: '' });
    expect(empty.status).toBe(400);
    expect(empty.json()).toEqual({ errors: ['team: identifier cannot be an empty string'] });
    const odd = await rename(alice, 'defenders', { name: '_defenders' });
    expect(odd.status).toBe(200);
    expect(odd.json()).toEqual({
      warnings: [
        {
          type: 'invalid_identifier',
          message:
            "team: '_defenders' is not a valid identifier: must start with a lowercase letter or a number",
        },
      ],
    });

    // Only admins destroy; fly sends Content-Type: application/json with no body.
    expect(
      (await request(`${ts.url}/api/v1/teams/_defenders`, { method: 'DELETE', headers: bearer(alice) }))
        .status,
    ).toBe(403);
    const destroyed = await request(`${ts.url}/api/v1/teams/_defenders`, {
      method: 'DELETE',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
    });
    expect(destroyed.status).toBe(204);
    expect((await request(`${ts.url}/api/v1/teams/_defenders`, { headers: bearer(admin) })).status).toBe(404);
  });

  it('warns about invalid identifiers when creating', async () => {
    const res = await setTeam(admin, '_team');
    expect(res.status).toBe(201);
    expect(res.json()).toMatchObject({
      warnings: [
        {
          type: 'invalid_identifier',
          message: "team: '_team' is not a valid identifier: must start with a lowercase letter or a number",
        },
      ],
    });
  });

  it('refuses to destroy the last admin team with a bodiless 403', async () => {
    const res = await request(`${ts.url}/api/v1/teams/main`, { method: 'DELETE', headers: bearer(admin) });
    expect(res.status).toBe(403);
    expect(res.text).toBe('');
    expect((await request(`${ts.url}/api/v1/teams/main`, { headers: bearer(admin) })).status).toBe(200);
  });

  it('lets only admins create teams, and only owners change them', async () => {
    const refused = await setTeam(alice, 'alices-own');
    expect(refused.status).toBe(403);
    expect(
      (
        await setTeam(
          admin,
          'viewed',
          '{"auth":{"owner":{"users":["local:admin"]},"viewer":{"users":["local:alice"]}}}',
        )
      ).status,
    ).toBe(201);
    expect((await request(`${ts.url}/api/v1/teams/viewed`, { headers: bearer(alice) })).status).toBe(200);
    expect((await setTeam(alice, 'viewed')).status).toBe(403);
    expect(
      (
        await request(`${ts.url}/api/v1/teams/viewed/rename`, {
          method: 'PUT',
          headers: { ...bearer(alice), 'content-type': 'application/json' },
          body: '{"name":"x"}',
        })
      ).status,
    ).toBe(403);
    // No token at all.
    expect((await request(`${ts.url}/api/v1/teams/viewed`)).status).toBe(401);
    expect(
      (await request(`${ts.url}/api/v1/teams/viewed`, { method: 'PUT', body: SET_TEAM_BODY })).status,
    ).toBe(401);
  });

  it('destroys a team with its builds', async () => {
    const created = await setTeam(admin, 'doomed');
    const teamId = created.json<{ team: { id: number } }>().team.id;
    const build = await ts.server.ctx.db
      .insertInto('builds')
      .values({ name: '1', team_id: teamId, status: 'succeeded' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await ts.server.ctx.db
      .insertInto('build_events')
      .values({ build_id: build.id, event_id: 0, type: 'status', version: '1.0', payload: '{}' })
      .execute();
    expect(
      (await request(`${ts.url}/api/v1/teams/doomed`, { method: 'DELETE', headers: bearer(admin) })).status,
    ).toBe(204);
    const left = await ts.server.ctx.db
      .selectFrom('builds')
      .select('id')
      .where('id', '=', build.id)
      .execute();
    expect(left).toEqual([]);
    const events = await ts.server.ctx.db
      .selectFrom('build_events')
      .select('event_id')
      .where('build_id', '=', build.id)
      .execute();
    expect(events).toEqual([]);
  });
});

describe('bad input (never a 500)', () => {
  it('answers 400 for bad set-team bodies', async () => {
    const bodies: Array<[string, string | undefined]> = [
      ['{', undefined],
      ['{"auth":', undefined],
      ['[]', undefined],
      ['"auth"', undefined],
      ['null', 'auth config for the team must not be empty'],
      ['{}', 'auth config for the team must not be empty'],
      ['{"auth":{}}', 'auth config for the team must not be empty'],
      [
        '{"auth":{"owner":{"users":[],"groups":[]}}}',
        'auth config for the team does not have users and groups configured',
      ],
      ['{"auth":{"owner":{}}}', 'auth config for the team does not have users and groups configured'],
      [
        '{"auth":{"boss":{"users":["local:a"]}}}',
        "unknown role 'boss' (roles are owner, member, pipeline-operator, viewer)",
      ],
      ['{"auth":{"owner":{"users":"local:a"}}}', undefined],
      ['{"auth":{"owner":{"users":[1]}}}', undefined],
      ['{"auth":{"owner":["local:a"]}}', undefined],
      ['{"auth":"owner"}', undefined],
    ];
    for (const [body, message] of bodies) {
      const res = await setTeam(admin, 'badbody', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      if (message) expect(res.json()).toEqual({ errors: [message] });
    }
    const noBody = await request(`${ts.url}/api/v1/teams/badbody`, { method: 'PUT', headers: bearer(admin) });
    expect(noBody.status).toBe(400);
    const emptyJson = await request(`${ts.url}/api/v1/teams/badbody`, {
      method: 'PUT',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: '',
    });
    expect(emptyJson.status).toBe(400);
    expect((await request(`${ts.url}/api/v1/teams/badbody`, { headers: bearer(admin) })).status).toBe(404);
  });

  it('answers 400 for bad rename bodies', async () => {
    for (const body of ['{', '[]', '{"name":5}', 'null']) {
      const res = await request(`${ts.url}/api/v1/teams/main/rename`, {
        method: 'PUT',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body,
      });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
  });

  it('answers 404 for unknown teams (403 to non-admins, who may not know they exist)', async () => {
    expect((await request(`${ts.url}/api/v1/teams/nope`, { headers: bearer(admin) })).status).toBe(404);
    expect((await request(`${ts.url}/api/v1/teams/nope`, { headers: bearer(alice) })).status).toBe(403);
    expect(
      (await request(`${ts.url}/api/v1/teams/nope`, { method: 'DELETE', headers: bearer(admin) })).status,
    ).toBe(404);
    const rename = await request(`${ts.url}/api/v1/teams/nope/rename`, {
      method: 'PUT',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: '{"name":"x"}',
    });
    expect(rename.status).toBe(404);
    expect((await request(`${ts.url}/api/v1/teams/a%00b`, { headers: bearer(admin) })).status).toBe(404);
    expect((await setTeam(admin, 'a\u0000b')).status).toBe(400);
    // Names are looked up in any letter case, as Concourse's FindTeam does.
    expect((await request(`${ts.url}/api/v1/teams/MAIN`, { headers: bearer(admin) })).status).toBe(200);
  });

  it('answers 413 for bodies over the limit', async () => {
    const huge = JSON.stringify({
      auth: { owner: { users: Array.from({ length: 10000 }, (_, i) => `local:user-${i}`) } },
    });
    expect(huge.length).toBeGreaterThan(64 * 1024);
    expect((await setTeam(admin, 'huge', huge)).status).toBe(413);
    const hugeForm = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&username=${'a'.repeat(70 * 1024)}`,
    });
    expect(hugeForm.status).toBe(413);
  });

  it('logged nothing at error level', () => {
    expect(errorLines()).toEqual([]);
  });
});
