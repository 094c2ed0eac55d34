import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { insertAccessToken, sql } from '@jetbridge/db';
import { LISTENER_APPLICATION_NAME } from '../src/auth/auth-change-listener.js';
import { localUserClaims } from '../src/auth/claims.js';
import { TokenClaimsCache } from '../src/auth/token-cache.js';
import { AccessTokenStore } from '../src/auth/token-store.js';
import { generateAccessToken } from '../src/auth/tokens.js';
import { ADMIN, loginToken, PLAIN_USER, startTestServer, type TestServer } from './harness.js';
import { bearer, request } from './http-client.js';

/**
 * The auth caches (issue #9): each web node caches the team list and verified tokens, yet a change made on
 * any node takes effect at once on that node and, through LISTEN/NOTIFY, within a notification's round trip
 * on the others. The caches live 60 s (teams) and 30 s (tokens), so every "eventually" below, bounded by
 * NOTIFIED_WITHIN_MS, would fail if the notification were not heard.
 */

const NOTIFIED_WITHIN_MS = 5_000;

describe('auth caches on two web nodes sharing one database', () => {
  let a: TestServer;
  let b: TestServer;
  let admin: string;

  beforeAll(async () => {
    a = await startTestServer();
    b = await startTestServer({ sharedPostgres: a.postgres });
    admin = await loginToken(a.url, ADMIN);
  });
  afterAll(async () => {
    await b?.destroy();
    await a?.destroy();
  });

  const statusOf = async (server: TestServer, path: string, token: string): Promise<number> =>
    (await request(`${server.url}${path}`, { headers: bearer(token) })).status;

  /** Polls until the status is `expected`; the time it took. Fails past NOTIFIED_WITHIN_MS. */
  const eventually = async (server: TestServer, path: string, token: string, expected: number) => {
    const started = Date.now();
    let status = await statusOf(server, path, token);
    while (status !== expected && Date.now() - started < NOTIFIED_WITHIN_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await statusOf(server, path, token);
    }
    expect(status).toBe(expected);
    return Date.now() - started;
  };

  const setTeam = async (server: TestServer, name: string, members: string[]) => {
    const res = await request(`${server.url}/api/v1/teams/${name}`, {
      method: 'PUT',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          owner: { users: ['local:admin'], groups: [] },
          ...(members.length > 0 ? { member: { users: members, groups: [] } } : {}),
        },
      }),
    });
    expect([200, 201]).toContain(res.status);
  };

  /** Alice may read the team on both nodes, both of which now have it cached. */
  const warmBoth = async (team: string, token: string) => {
    await eventually(a, `/api/v1/teams/${team}`, token, 200);
    await eventually(b, `/api/v1/teams/${team}`, token, 200);
  };

  it('a user removed from a team loses access at once here, within a notification on the other node', async () => {
    const alice = await loginToken(a.url, PLAIN_USER);
    await setTeam(a, 'removal', ['local:alice']);
    await warmBoth('removal', alice);

    await setTeam(a, 'removal', []);
    expect(await statusOf(a, '/api/v1/teams/removal', alice)).toBe(403);
    await eventually(b, '/api/v1/teams/removal', alice, 403);
    // And back, the other way round: granted on b, seen at once on b and promptly on a.
    await setTeam(b, 'removal', ['local:alice']);
    expect(await statusOf(b, '/api/v1/teams/removal', alice)).toBe(200);
    await eventually(a, '/api/v1/teams/removal', alice, 200);
  });

  it('a renamed team answers to its new name only', async () => {
    const alice = await loginToken(a.url, PLAIN_USER);
    await setTeam(a, 'before', ['local:alice']);
    await warmBoth('before', alice);

    const renamed = await request(`${a.url}/api/v1/teams/before/rename`, {
      method: 'PUT',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after' }),
    });
    expect(renamed.status).toBe(200);
    expect(await statusOf(a, '/api/v1/teams/before', alice)).toBe(403);
    expect(await statusOf(a, '/api/v1/teams/after', alice)).toBe(200);
    await eventually(b, '/api/v1/teams/before', alice, 403);
    expect(await statusOf(b, '/api/v1/teams/after', alice)).toBe(200);
  });

  it('a destroyed team grants nothing any more', async () => {
    const alice = await loginToken(a.url, PLAIN_USER);
    await setTeam(a, 'doomed', ['local:alice']);
    await warmBoth('doomed', alice);

    const destroyed = await request(`${b.url}/api/v1/teams/doomed`, {
      method: 'DELETE',
      headers: bearer(admin),
    });
    expect(destroyed.status).toBe(204);
    expect(await statusOf(b, '/api/v1/teams/doomed', alice)).toBe(403);
    await eventually(a, '/api/v1/teams/doomed', alice, 403);
    // Recreated under the same name without alice: still nothing for her.
    await setTeam(a, 'doomed', []);
    expect(await statusOf(a, '/api/v1/teams/doomed', alice)).toBe(403);
    expect(await statusOf(b, '/api/v1/teams/doomed', alice)).toBe(403);
  });

  it('logout revokes the token at once here, within a notification on the other node', async () => {
    const alice = await loginToken(a.url, PLAIN_USER);
    const other = await loginToken(a.url, PLAIN_USER);
    for (const server of [a, b]) {
      expect(await statusOf(server, '/api/v1/user', alice)).toBe(200);
      expect(await statusOf(server, '/api/v1/user', other)).toBe(200);
    }
    const logout = await request(`${a.url}/sky/logout`, {
      headers: { cookie: `skymarshal_auth="Bearer ${alice}"` },
    });
    expect(logout.status).toBe(200);
    expect(await statusOf(a, '/api/v1/user', alice)).toBe(401);
    await eventually(b, '/api/v1/user', alice, 401);
    // Only that token: her other session stays.
    expect(await statusOf(a, '/api/v1/user', other)).toBe(200);
    expect(await statusOf(b, '/api/v1/user', other)).toBe(200);
  });

  it('an expired token is refused from the moment it expires, cached or not', async () => {
    // A token expiring in about two seconds, as the token endpoint would issue with a short auth duration.
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + 3) * 1000);
    const claims = localUserClaims({
      username: PLAIN_USER.username,
      issuer: `${a.url}/sky/issuer`,
      clientId: 'fly',
      scopes: ['openid', 'profile', 'email', 'federated:id', 'groups'],
      issuedAt: new Date(),
      expiresAt,
    });
    const token = generateAccessToken(expiresAt);
    await insertAccessToken(a.server.ctx.db, { token, sub: claims.sub, claims: { ...claims }, expiresAt });
    expect(await statusOf(a, '/api/v1/user', token)).toBe(200);
    expect(await statusOf(b, '/api/v1/user', token)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 20));
    expect(await statusOf(a, '/api/v1/user', token)).toBe(401);
    expect(await statusOf(b, '/api/v1/user', token)).toBe(401);
  });

  it('a node that lost its listening connection serves nothing stale, and listens again', async () => {
    const alice = await loginToken(a.url, PLAIN_USER);
    await setTeam(a, 'cut', ['local:alice']);
    await warmBoth('cut', alice);

    const killed = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
      where application_name = ${LISTENER_APPLICATION_NAME}`.execute(a.server.ctx.db);
    expect(killed.rows).toHaveLength(2);
    // A change made while nobody listens: no notification reaches anyone, yet neither node serves stale roles.
    await setTeam(a, 'cut', []);
    expect(await statusOf(a, '/api/v1/teams/cut', alice)).toBe(403);
    await eventually(b, '/api/v1/teams/cut', alice, 403);

    // Both listen again (backoff starts at 250 ms), and notifications work as before.
    const deadline = Date.now() + NOTIFIED_WITHIN_MS;
    let listening = 0;
    while (listening < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rows = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where application_name = ${LISTENER_APPLICATION_NAME} and query like 'LISTEN%'`.execute(
        a.server.ctx.db,
      );
      listening = rows.rows[0]?.n ?? 0;
    }
    expect(listening).toBe(2);
    await setTeam(a, 'cut', ['local:alice']);
    await warmBoth('cut', alice);
    await setTeam(b, 'cut', []);
    await eventually(a, '/api/v1/teams/cut', alice, 403);
  });

  it('caches verified tokens for a bounded time only', async () => {
    // A store of its own with a short TTL, over the same database: proves the cache is used (a row deleted
    // behind its back is still served) and that its TTL bounds that.
    const db = a.server.ctx.db;
    const store = new AccessTokenStore(db, {
      cache: new TokenClaimsCache({ ttlMs: 300 }),
      isTrusted: () => true,
    });
    const issued = await store.issue(
      localUserClaims({
        username: PLAIN_USER.username,
        issuer: `${a.url}/sky/issuer`,
        clientId: 'fly',
        scopes: ['openid', 'profile'],
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 3_600_000),
      }),
    );
    expect((await store.verify(issued.token))?.name).toBe(PLAIN_USER.username);
    await db.deleteFrom('access_tokens').where('token', '=', issued.token).execute();
    expect((await store.verify(issued.token))?.name).toBe(PLAIN_USER.username);
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect(await store.verify(issued.token)).toBeUndefined();
    // Untrusted (not listening): straight to the database.
    const untrusted = new AccessTokenStore(db, { cache: new TokenClaimsCache(), isTrusted: () => false });
    const second = await untrusted.issue(issued.claims);
    expect(await untrusted.verify(second.token)).toBeDefined();
    await untrusted.revoke(second.token);
    expect(await untrusted.verify(second.token)).toBeUndefined();
  });
});
