import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { CookieJar, bearer, request } from './http-client.js';

/**
 * Login as fly does it (password grant, concourse-api.md §5.2/§6.2) and in a browser (§5.4), the token model
 * (§5.1), CSRF for cookie sessions (§5.5), logout, and what survives a restart.
 */
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});

afterAll(async () => {
  await ts?.destroy();
});

const FLY_BASIC = 'Basic Zmx5OlpteDU=';
const form = (user: string, pass: string) =>
  `grant_type=password&password=${encodeURIComponent(pass)}&scope=openid+profile+email+federated%3Aid+groups&username=${encodeURIComponent(user)}`;

function errorLines(): Array<Record<string, unknown>> {
  return ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
}

describe('fly login -u -p (password grant)', () => {
  it('serves the exact request sequence of fly login', async () => {
    // 1. version check, without Authorization
    const info = await request(`${ts.url}/api/v1/info`);
    expect(info.status).toBe(200);
    expect(info.headers.get('content-type')).toBe('application/json');
    const infoBody = info.json<Record<string, unknown>>();
    expect(infoBody.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(typeof infoBody.worker_version).toBe('string');
    expect(Object.keys(infoBody.feature_flags as object).sort()).toEqual(
      ['build_rerun', 'cache_streamed_volumes', 'global_resources', 'resource_causality'].sort(),
    );
    expect(infoBody.external_url).toBe(ts.config.externalUrl);

    // 2. the token request, byte for byte as golang.org/x/oauth2 sends it
    const tokenRes = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: {
        authorization: FLY_BASIC,
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'Go-http-client/1.1',
      },
      body: form(ADMIN.username, ADMIN.password),
    });
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.headers.get('content-type')).toBe('application/json');
    const token = tokenRes.json<{ access_token: string; token_type: string; expires_in: number }>();
    expect(token.token_type).toBe('bearer');
    expect(token.access_token).toMatch(/^[A-Za-z0-9+/]{38}$/);
    // 24h default lifetime, and the expiry is inside the token as `fly targets` reads it.
    expect(token.expires_in).toBeGreaterThan(24 * 3600 - 60);
    expect(token.expires_in).toBeLessThanOrEqual(24 * 3600);
    const embedded = Number(Buffer.from(token.access_token, 'base64').readBigUInt64LE(20));
    expect(Math.abs(embedded - (Date.now() / 1000 + token.expires_in))).toBeLessThan(5);

    // 3. who am I, with the new token
    const user = await request(`${ts.url}/api/v1/user`, { headers: bearer(token.access_token) });
    expect(user.status).toBe(200);
    expect(user.json()).toEqual({
      sub: expect.any(String),
      name: 'admin',
      user_id: 'admin',
      user_name: '',
      email: 'admin',
      is_admin: true,
      is_system: false,
      teams: { main: ['owner'] },
      connector: 'local',
      display_user_id: 'admin',
    });

    // 4. admins: the team must be listed
    const teams = await request(`${ts.url}/api/v1/teams`, { headers: bearer(token.access_token) });
    expect(teams.status).toBe(200);
    expect(teams.json()).toEqual([
      { id: expect.any(Number), name: 'main', auth: { owner: { users: ['local:admin'], groups: [] } } },
    ]);
  });

  it('accepts the client credentials in the form (oauth2 retry without Basic)', async () => {
    const res = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `client_id=fly&client_secret=Zmx5&${form(PLAIN_USER.username, PLAIN_USER.password)}`,
    });
    expect(res.status).toBe(200);
    const token = res.json<{ access_token: string }>().access_token;
    const user = await request(`${ts.url}/api/v1/user`, { headers: { authorization: `bearer ${token}` } });
    expect(user.status).toBe(200);
    expect(user.json()).toMatchObject({
      user_name: '',
      display_user_id: 'alice',
      is_admin: false,
      teams: {},
    });
  });

  it('answers a wrong password with 401 and the OAuth error JSON, both ways fly tries', async () => {
    const attempts: Array<Record<string, string>> = [
      { authorization: FLY_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    ];
    for (const headers of attempts) {
      const body = headers.authorization
        ? form('admin', 'wrong')
        : `client_id=fly&client_secret=Zmx5&${form('admin', 'wrong')}`;
      const res = await request(`${ts.url}/sky/issuer/token`, { method: 'POST', headers, body });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.json()).toEqual({
        error: 'access_denied',
        error_description: 'Invalid username or password',
      });
    }
    const unknownUser = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { authorization: FLY_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      body: form('nobody', 'x'),
    });
    expect(unknownUser.status).toBe(401);
  });

  it('matches usernames in any letter case, as dex does', async () => {
    const res = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { authorization: FLY_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      body: form('ADMIN', ADMIN.password),
    });
    expect(res.status).toBe(200);
  });

  it('refuses bad clients, grants and scopes with dex statuses', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      request(`${ts.url}/sky/issuer/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    const badClient = await post(form('admin', ADMIN.password), {
      authorization: `Basic ${Buffer.from('fly:nope').toString('base64')}`,
    });
    expect(badClient.status).toBe(401);
    expect(badClient.json()).toEqual({
      error: 'invalid_client',
      error_description: 'Invalid client credentials.',
    });
    expect((await post(form('admin', ADMIN.password))).status).toBe(401);

    const unknownGrant = await post('grant_type=authorization_code&code=x', { authorization: FLY_BASIC });
    expect(unknownGrant.status).toBe(400);
    expect(unknownGrant.json()).toEqual({ error: 'unsupported_grant_type' });
    expect((await post('', { authorization: FLY_BASIC })).status).toBe(400);

    const noOpenId = await post('grant_type=password&username=admin&password=x&scope=profile', {
      authorization: FLY_BASIC,
    });
    expect(noOpenId.status).toBe(400);
    expect(noOpenId.json()).toEqual({
      error: 'invalid_request',
      error_description: 'Missing required scope(s) ["openid"].',
    });
    const oddScope = await post('grant_type=password&username=admin&password=x&scope=openid+x+y', {
      authorization: FLY_BASIC,
    });
    expect(oddScope.json()).toEqual({
      error: 'invalid_request',
      error_description: 'Unrecognized scope(s) ["x" "y"]',
    });

    // Not a form: no grant type can be read from it. Never a 500.
    const json = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { authorization: FLY_BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password' }),
    });
    expect(json.status).toBe(400);
    const text = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(text.status).toBe(400);
    const xml = await request(`${ts.url}/sky/issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<x/>',
    });
    expect(xml.status).toBe(415);
    const garbageBasic = await post(form('admin', ADMIN.password), { authorization: 'Basic %%%' });
    expect(garbageBasic.status).toBe(401);
    expect(errorLines()).toEqual([]);
  });

  it('serves the issuer discovery document', async () => {
    const res = await request(`${ts.url}/sky/issuer/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({
      issuer: `${ts.config.externalUrl}/sky/issuer`,
      token_endpoint: `${ts.config.externalUrl}/sky/issuer/token`,
    });
  });
});

describe('tokens', () => {
  it('rejects requests without, with garbage, and with expired tokens', async () => {
    expect((await request(`${ts.url}/api/v1/user`)).status).toBe(401);
    const garbage = await request(`${ts.url}/api/v1/user`, { headers: bearer('garbage') });
    expect(garbage.status).toBe(401);
    expect(garbage.text).toBe('not authorized');
    const shaped = await request(`${ts.url}/api/v1/user`, {
      headers: bearer(Buffer.alloc(28, 7).toString('base64').replace(/=+$/, '')),
    });
    expect(shaped.status).toBe(401);
    expect(
      (await request(`${ts.url}/api/v1/user`, { headers: { authorization: 'Basic Zmx5OlpteDU=' } })).status,
    ).toBe(401);
    expect(
      (await request(`${ts.url}/api/v1/user`, { headers: { authorization: `Bearer ${'x'.repeat(4000)}` } }))
        .status,
    ).toBe(401);

    // An expired token still in the table (the purge has not run yet) must not work.
    const token = await loginToken(ts.url, ADMIN);
    await ts.server.ctx.db
      .updateTable('access_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('token', '=', token)
      .execute();
    expect((await request(`${ts.url}/api/v1/user`, { headers: bearer(token) })).status).toBe(401);
    // ...and the purge removes it.
    expect(await ts.server.app.auth.tokens.purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = await ts.server.ctx.db
      .selectFrom('access_tokens')
      .select('token')
      .where('token', '=', token)
      .execute();
    expect(left).toEqual([]);
  });

  it('gives 401 on OPEN routes when a token is present but invalid, and serves them anonymously otherwise', async () => {
    expect((await request(`${ts.url}/api/v1/info`, { headers: bearer('expired-or-garbage') })).status).toBe(
      401,
    );
    expect((await request(`${ts.url}/api/v1/teams`, { headers: bearer('expired-or-garbage') })).status).toBe(
      401,
    );
    const anonymous = await request(`${ts.url}/api/v1/teams`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.json()).toEqual([]);
  });

  it('survive a restart, with users and teams', async () => {
    const adminToken = await loginToken(ts.url, ADMIN);
    const aliceToken = await loginToken(ts.url, PLAIN_USER);
    const set = await request(`${ts.url}/api/v1/teams/survivors`, {
      method: 'PUT',
      headers: { ...bearer(adminToken), 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { owner: { users: ['local:alice'], groups: [] } } }),
    });
    expect(set.status).toBe(201);
    const keyBefore = ts.server.app.auth.signingKey.toString('hex');

    await ts.restart();

    const me = await request(`${ts.url}/api/v1/user`, { headers: bearer(aliceToken) });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ teams: { survivors: ['owner'] } });
    const team = await request(`${ts.url}/api/v1/teams/survivors`, { headers: bearer(adminToken) });
    expect(team.status).toBe(200);
    const users = await request(`${ts.url}/api/v1/users`, { headers: bearer(adminToken) });
    expect(users.status).toBe(200);
    expect(
      users
        .json<Array<{ username: string }>>()
        .map((u) => u.username)
        .sort(),
    ).toEqual(['admin', 'alice']);
    // The generated session signing key is kept in the database.
    expect(ts.server.app.auth.signingKey.toString('hex')).toBe(keyBefore);
  });
});

describe('GET /api/v1/users (fly active-users)', () => {
  it('is admin only and filters by last login date', async () => {
    const adminToken = await loginToken(ts.url, ADMIN);
    const aliceToken = await loginToken(ts.url, PLAIN_USER);
    expect((await request(`${ts.url}/api/v1/users`)).status).toBe(401);
    expect((await request(`${ts.url}/api/v1/users`, { headers: bearer(aliceToken) })).status).toBe(403);
    const all = await request(`${ts.url}/api/v1/users`, { headers: bearer(adminToken) });
    const users = all.json<Array<Record<string, unknown>>>();
    expect(users.find((u) => u.username === 'admin')).toEqual({
      id: expect.any(Number),
      username: 'admin',
      connector: 'local',
      last_login: expect.any(Number),
      sub: expect.any(String),
    });
    const future = await request(`${ts.url}/api/v1/users?since=2999-01-01`, { headers: bearer(adminToken) });
    expect(future.json()).toEqual([]);
    const past = await request(`${ts.url}/api/v1/users?since=2000-01-31`, { headers: bearer(adminToken) });
    expect(past.json<unknown[]>().length).toBe(2);
    const bad = await request(`${ts.url}/api/v1/users?since=2000-02-30`, { headers: bearer(adminToken) });
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: 'wrong date format (yyyy-mm-dd)' });
  });
});

describe('browser login (fly login without -p)', () => {
  let fly: Server;
  let flyPort: number;
  const received: string[] = [];

  beforeAll(async () => {
    // Stands in for fly's local listener: records the token and redirects as fly does.
    fly = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      received.push(url.searchParams.get('token') ?? '');
      res.writeHead(302, { location: `${ts.url}/fly_success?noop=true` }).end();
    });
    await new Promise<void>((resolve) => fly.listen(0, '127.0.0.1', resolve));
    flyPort = (fly.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => fly.close(resolve));
  });

  async function browserLogin(jar: CookieJar, password: string = ADMIN.password) {
    const start = await request(`${ts.url}/login?fly_port=${flyPort}`);
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toBe(`/sky/login?redirect_uri=/fly_success%3Ffly_port=${flyPort}`);

    const formPage = await request(`${ts.url}${start.headers.get('location')}`);
    expect(formPage.status).toBe(200);
    expect(formPage.headers.get('content-type')).toMatch(/^text\/html/);
    expect(formPage.text).not.toMatch(/<script|src=|href="http/);
    const state = /name="state" value="([^"]+)"/.exec(formPage.text)?.[1];
    expect(state).toBeDefined();

    const posted = await request(`${ts.url}/sky/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: ADMIN.username, password, state: state ?? '' }).toString(),
    });
    jar.store(posted.headers);
    return posted;
  }

  it('ends at fly with the token, and leaves a CSRF-protected cookie session', async () => {
    const jar = new CookieJar();
    const wrong = await browserLogin(jar, 'wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Invalid username or password');

    const posted = await browserLogin(jar);
    expect(posted.status).toBe(303);
    const location = posted.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${flyPort}/\\?token=bearer%20`));
    const setCookies = posted.headers.getSetCookie();
    for (const name of ['skymarshal_auth', 'skymarshal_csrf']) {
      const cookie = setCookies.find((c) => c.startsWith(`${name}=`)) ?? '';
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);
      expect(cookie).toMatch(/Expires=/);
    }

    // The browser follows to fly's listener, which gets `bearer <token>` and sends the browser back.
    const atFly = await request(location);
    expect(atFly.status).toBe(302);
    const pasted = received.at(-1) ?? '';
    const [type, token] = pasted.split(' ');
    expect(type).toBe('bearer');
    expect(token).toMatch(/^[A-Za-z0-9+/]{38}$/);
    expect(jar.get('skymarshal_auth')).toBe(pasted);
    const done = await request(atFly.headers.get('location') ?? '');
    expect(done.status).toBe(200);

    // fly can use the token...
    expect((await request(`${ts.url}/api/v1/user`, { headers: bearer(token ?? '') })).status).toBe(200);
    // ...and so can the browser, by cookie: reads need no CSRF token.
    const me = await request(`${ts.url}/api/v1/user`, { headers: { cookie: jar.header() } });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ is_admin: true });

    // A cookie-authenticated write without X-Csrf-Token: 401, empty body, cookies cleared.
    const write = (headers: Record<string, string>) =>
      request(`${ts.url}/api/v1/teams/csrf-team`, {
        method: 'PUT',
        headers: { cookie: jar.header(), 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ auth: { owner: { users: ['local:admin'], groups: [] } } }),
      });
    const refused = await write({});
    expect(refused.status).toBe(401);
    expect(refused.text).toBe('');
    expect(refused.headers.getSetCookie().some((c) => /^skymarshal_auth=;/.test(c))).toBe(true);
    expect((await write({ 'x-csrf-token': 'f'.repeat(64) })).status).toBe(401);
    const accepted = await write({ 'x-csrf-token': jar.get('skymarshal_csrf') ?? '' });
    expect(accepted.status).toBe(201);

    // Going to the login page again with a live session skips the form.
    const again = await request(`${ts.url}/sky/login?redirect_uri=/teams`, {
      headers: { cookie: jar.header() },
    });
    expect(again.status).toBe(307);
    expect(again.headers.get('location')).toMatch(/^\/teams\?csrf_token=[0-9a-f]{64}$/);
    const success = await request(`${ts.url}/fly_success?fly_port=${flyPort}`, {
      headers: { cookie: jar.header() },
    });
    expect(success.text).toContain(`bearer ${token}`.replace(/\+/g, '+'));

    // fly logout sends the cookie quoted, Go style.
    const logout = await request(`${ts.url}/sky/logout`, {
      headers: { cookie: `skymarshal_auth="${pasted}"` },
    });
    expect(logout.status).toBe(200);
    expect(logout.headers.getSetCookie().some((c) => /^skymarshal_csrf=;/.test(c))).toBe(true);
    expect((await request(`${ts.url}/api/v1/user`, { headers: bearer(token ?? '') })).status).toBe(401);
    expect((await request(`${ts.url}/sky/logout`)).status).toBe(401);
    expect(errorLines()).toEqual([]);
  });

  it('never redirects off-site and refuses forged state', async () => {
    expect((await request(`${ts.url}/sky/login?redirect_uri=%5C%5Cevil.example`)).status).toBe(400);
    const offsite = await request(`${ts.url}/sky/login?redirect_uri=https://evil.example/x`);
    expect(offsite.status).toBe(200);
    const forged = await request(`${ts.url}/sky/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=admin&password=${ADMIN.password}&state=${Buffer.from('{"redirect_uri":"//evil"}').toString('base64url')}.x`,
    });
    expect(forged.status).toBe(400);
    const state = /name="state" value="([^"]+)"/.exec(offsite.text)?.[1] ?? '';
    const posted = await request(`${ts.url}/sky/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'admin', password: ADMIN.password, state }).toString(),
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toMatch(/^\/https:\/\/evil\.example\/x\?csrf_token=/);
  });
});
