import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { localUserClaims } from '../../src/auth/claims.js';
import { ADMIN } from '../harness.js';
import { setPipeline } from '../pipeline-client.js';
import { describeLogLine, startBadInputServer, type BadInputServer } from './bad-input-server.js';

/**
 * Credentials that must not open anything: an expired token, a token one character off, a token whose
 * expiry bytes were raised, JWTs (`alg: none`, a wrong HMAC key — JetBridge's tokens are opaque, but a
 * client may send one), malformed Authorization headers and session cookies. A protected route answers 401,
 * never a 5xx, and never with the team's data.
 */
let s: BadInputServer;
const PROTECTED = '/api/v1/teams/main/pipelines';
const WHO_AM_I = '/api/v1/user';
const PRIVATE_PIPELINE = 'private-pipeline-4d2c';

beforeAll(async () => {
  s = await startBadInputServer();
  // A private pipeline: what a forged credential must never list.
  await setPipeline(
    s.ts.url,
    s.admin,
    'main',
    PRIVATE_PIPELINE,
    'jobs: [{name: j, plan: [{task: t, config: {platform: linux, run: {path: "true"}}}]}]',
  );
}, 120_000);

afterAll(async () => {
  await s?.destroy();
});

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function jwt(header: Record<string, unknown>, claims: Record<string, unknown>, key?: string): string {
  const body = `${base64url(header)}.${base64url(claims)}`;
  const signature = key === undefined ? '' : createHmac('sha256', key).update(body).digest('base64url');
  return `${body}.${signature}`;
}

const ADMIN_CLAIMS = {
  sub: 'admin',
  exp: Math.floor(Date.now() / 1000) + 3600,
  is_admin: true,
  teams: { main: ['owner'] },
  user_id: 'admin',
  user_name: 'admin',
};

async function statusWith(authorization: string, path = PROTECTED): Promise<number> {
  return (await s.send('GET', path, { headers: { authorization } })).status;
}

describe('tokens that must not work', () => {
  it('the real token works (the refusals below are not vacuous)', async () => {
    expect(await statusWith(`Bearer ${s.admin}`)).toBe(200);
    expect((await s.send('GET', PROTECTED, { token: s.admin })).body).toContain(PRIVATE_PIPELINE);
  });

  it('an expired token: 401', async () => {
    const { ts } = s;
    // A token of its own, issued by the server's token store to expire two seconds from now (the token
    // text carries the expiry too), used while valid and again once expired. It expires for real: verified
    // tokens are cached per node (never past their expiry), so moving a stored expiry by hand would only be
    // seen when the cache entry goes stale.
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + 2) * 1000);
    const { token: expiring } = await ts.server.app.auth.tokens.issue(
      localUserClaims({
        username: ADMIN.username,
        issuer: `${ts.url}/sky/issuer`,
        clientId: 'fly',
        scopes: ['openid', 'profile', 'email', 'federated:id', 'groups'],
        issuedAt: new Date(),
        expiresAt,
      }),
    );
    expect(await statusWith(`Bearer ${expiring}`)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 20));
    expect(await statusWith(`Bearer ${expiring}`)).toBe(401);
    expect(await statusWith(`Bearer ${expiring}`, WHO_AM_I)).toBe(401);
  });

  it('the token one character off, truncated, or with its expiry raised: 401', async () => {
    const token = s.admin;
    const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    const bytes = Buffer.from(token, 'base64');
    bytes.writeBigUInt64LE(BigInt(Math.floor(Date.now() / 1000) + 10 * 365 * 86400), 20);
    const extended = bytes.toString('base64').replace(/=+$/, '');
    for (const candidate of [flipped, token.slice(0, -1), `${token}A`, extended, token.toLowerCase()])
      expect(await statusWith(`Bearer ${candidate}`)).toBe(401);
  });

  it('JWTs with alg none, a wrong key, or no signature: 401', async () => {
    const forged = [
      jwt({ alg: 'none', typ: 'JWT' }, ADMIN_CLAIMS),
      jwt({ alg: 'HS256', typ: 'JWT' }, ADMIN_CLAIMS, 'not-the-key'),
      jwt({ alg: 'HS256', typ: 'JWT' }, ADMIN_CLAIMS, ''),
      jwt({ alg: 'RS256', typ: 'JWT' }, ADMIN_CLAIMS),
      `${base64url({ alg: 'none' })}.${base64url(ADMIN_CLAIMS)}`,
    ];
    for (const token of forged) {
      expect(await statusWith(`Bearer ${token}`)).toBe(401);
      expect(await statusWith(`Bearer ${token}`, WHO_AM_I)).toBe(401);
    }
  });

  it('malformed Authorization headers: 401, not 5xx', async () => {
    for (const header of [
      'Bearer',
      'Bearer ',
      'bearer  x',
      `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`,
      `Bearer ${s.admin} extra`,
      'Bearer \u00ff\u00fe',
      `Bearer ${'A'.repeat(100_000)}`,
    ])
      expect([401, 400, 431]).toContain(await statusWith(header));
  });

  it('a session cookie with a forged or missing CSRF token: 401', async () => {
    const cookie = `skymarshal_auth="Bearer ${s.admin}"; skymarshal_csrf=forged`;
    const answer = await s.send('PUT', '/api/v1/teams/main/pipelines/none/pause', {
      headers: { cookie, 'x-csrf-token': 'forged' },
    });
    expect(answer.status).toBe(401);
    const garbage = await s.send('GET', PROTECTED, {
      headers: { cookie: 'skymarshal_auth=%%%; skymarshal_csrf=' },
    });
    expect([400, 401]).toContain(garbage.status);
  });

  it('random Authorization values and cookies (fast-check): never a 5xx, never the data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 80 }).map((value) => `Bearer ${value}`),
          fc
            .base64String({ minLength: 36, maxLength: 40 })
            .map((value) => `Bearer ${value.replace(/=+$/, '')}`),
          fc
            .tuple(fc.jsonValue(), fc.jsonValue(), fc.string())
            .map(([h, c, sig]) => `Bearer ${base64url(h)}.${base64url(c)}.${sig}`),
          fc.string({ maxLength: 80 }),
        ),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        async (authorization, cookie) => {
          const headers: Record<string, string> = {};
          // fetch refuses header values with control characters; those never reach a server anyway.
          if (/^[\t\x20-\x7e\x80-\xff]*$/.test(authorization)) headers.authorization = authorization;
          if (cookie !== undefined && /^[\t\x20-\x7e]*$/.test(cookie))
            headers.cookie = `skymarshal_auth=${cookie}`;
          const answer = await s.send('GET', PROTECTED, { headers });
          if (answer.status >= 500) throw new Error(`${answer.status} for ${JSON.stringify(headers)}`);
          // No credential at all is an anonymous caller: public pipelines only (there are none).
          return answer.status < 500 && !answer.body.includes(PRIVATE_PIPELINE);
        },
      ),
      { numRuns: Number(process.env.JETBRIDGE_FUZZ_RUNS ?? 300) },
    );
  });

  it('wrote no error-level log line', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});
