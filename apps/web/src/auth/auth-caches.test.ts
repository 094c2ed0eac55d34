import { describe, expect, it } from '@jest/globals';
import type { TeamRecord } from '@jetbridge/db';
import { localUserClaims, type TokenClaims } from './claims.js';
import { TeamsCache } from './teams-cache.js';
import { TokenClaimsCache, tokenDigest } from './token-cache.js';
import { generateAccessToken } from './tokens.js';

const HOUR = 3_600_000;

function claimsOf(username: string, expiresAt: Date): TokenClaims {
  return localUserClaims({
    username,
    issuer: 'http://ci/sky/issuer',
    clientId: 'fly',
    scopes: ['openid', 'profile'],
    issuedAt: new Date(expiresAt.getTime() - HOUR),
    expiresAt,
  });
}

describe('TokenClaimsCache', () => {
  const t0 = Date.parse('2026-12-07T08:00:00Z');
  const expiry = new Date(t0 + HOUR);

  it('keys tokens by a digest that does not contain the token', () => {
    const token = generateAccessToken(expiry);
    const digest = tokenDigest(token);
    expect(digest).not.toContain(token);
    expect(digest).toBe(tokenDigest(token));
    expect(digest).not.toBe(tokenDigest(generateAccessToken(expiry)));
  });

  it('serves claims until the TTL, and never past the token expiry', () => {
    const cache = new TokenClaimsCache({ ttlMs: 30_000 });
    cache.set('a', claimsOf('alice', expiry), expiry, cache.generation, t0);
    expect(cache.get('a', t0 + 29_999)?.name).toBe('alice');
    expect(cache.get('a', t0 + 30_000)).toBeUndefined();
    expect(cache.size).toBe(0);

    const soon = new Date(t0 + 1_000);
    cache.set('b', claimsOf('bob', soon), soon, cache.generation, t0);
    expect(cache.get('b', t0 + 999)?.name).toBe('bob');
    expect(cache.get('b', t0 + 1_000)).toBeUndefined();
    // An already expired token is not even kept.
    cache.set('c', claimsOf('carol', soon), soon, cache.generation, t0 + 2_000);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new TokenClaimsCache({ maxEntries: 3 });
    for (const name of ['a', 'b', 'c']) cache.set(name, claimsOf(name, expiry), expiry, cache.generation, t0);
    expect(cache.get('a', t0)?.name).toBe('a'); // a is now the most recent
    cache.set('d', claimsOf('d', expiry), expiry, cache.generation, t0);
    expect(cache.size).toBe(3);
    expect(cache.get('b', t0)).toBeUndefined();
    expect(['a', 'c', 'd'].map((name) => cache.get(name, t0)?.name)).toEqual(['a', 'c', 'd']);
  });

  it('does not keep what a verification read before a revocation', () => {
    const cache = new TokenClaimsCache();
    const before = cache.generation; // the verification starts reading the database
    cache.delete('a'); // meanwhile the token is revoked
    cache.set('a', claimsOf('alice', expiry), expiry, before, t0);
    expect(cache.get('a', t0)).toBeUndefined();
    cache.set('a', claimsOf('alice', expiry), expiry, cache.generation, t0);
    cache.clear();
    expect(cache.get('a', t0)).toBeUndefined();
  });
});

describe('TeamsCache', () => {
  const team = (name: string): TeamRecord => ({ id: 1, name, auth: {}, admin: false });

  /** A loader whose answers the test releases one by one, counting loads. */
  function controlledLoader() {
    const pending: Array<(teams: TeamRecord[]) => void> = [];
    return {
      loads: () => pending.length,
      load: () => new Promise<TeamRecord[]>((resolve) => pending.push(resolve)),
      answer: (index: number, teams: TeamRecord[]) => pending[index]?.(teams),
    };
  }

  it('loads once for concurrent requests and serves the list until the TTL', async () => {
    let now = 0;
    const loader = controlledLoader();
    const cache = new TeamsCache({ load: loader.load, isTrusted: () => true, ttlMs: 60_000, now: () => now });
    const first = cache.get();
    const second = cache.get();
    expect(loader.loads()).toBe(1);
    loader.answer(0, [team('main')]);
    expect((await first).map((t) => t.name)).toEqual(['main']);
    expect(await second).toBe(await first);
    now = 59_999;
    expect((await cache.get()).map((t) => t.name)).toEqual(['main']);
    expect(loader.loads()).toBe(1);
    now = 60_000;
    const third = cache.get();
    expect(loader.loads()).toBe(2);
    loader.answer(1, [team('main'), team('dev')]);
    expect((await third).map((t) => t.name)).toEqual(['main', 'dev']);
  });

  it('never keeps a list whose load raced an invalidation', async () => {
    const loader = controlledLoader();
    const cache = new TeamsCache({ load: loader.load, isTrusted: () => true });
    const raced = cache.get();
    cache.invalidate(); // a team changed while the list was being read
    const fresh = cache.get();
    expect(loader.loads()).toBe(2);
    loader.answer(1, [team('renamed')]);
    loader.answer(0, [team('old')]);
    expect((await raced).map((t) => t.name)).toEqual(['old']);
    expect((await fresh).map((t) => t.name)).toEqual(['renamed']);
    expect((await cache.get()).map((t) => t.name)).toEqual(['renamed']);
    expect(loader.loads()).toBe(2);
  });

  it('reads the database every time while untrusted', async () => {
    let loads = 0;
    let trusted = false;
    const cache = new TeamsCache({
      load: async () => {
        loads++;
        return [team('main')];
      },
      isTrusted: () => trusted,
    });
    await cache.get();
    await cache.get();
    expect(loads).toBe(2);
    trusted = true;
    await cache.get();
    await cache.get();
    expect(loads).toBe(3);
  });
});
