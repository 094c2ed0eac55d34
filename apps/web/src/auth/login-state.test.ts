import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { csrfMatches, csrfTokenFor } from './csrf.js';
import { signLoginState, verifyLoginState } from './login-state.js';

const key = randomBytes(32);

describe('login state', () => {
  it('round-trips the redirect URI', () => {
    expect(verifyLoginState(key, signLoginState(key, '/fly_success?fly_port=1234'))).toBe(
      '/fly_success?fly_port=1234',
    );
  });

  it('refuses a state signed with another key, tampered with, or older than an hour', () => {
    const state = signLoginState(key, '/');
    expect(verifyLoginState(randomBytes(32), state)).toBeUndefined();
    const [body, sig] = state.split('.');
    const forged = Buffer.from(JSON.stringify({ redirect_uri: '//evil', entropy: 'x', ts: 1 })).toString(
      'base64url',
    );
    expect(verifyLoginState(key, `${forged}.${sig}`)).toBeUndefined();
    expect(verifyLoginState(key, `${body}.${sig}x`)).toBeUndefined();
    expect(verifyLoginState(key, 'garbage')).toBeUndefined();
    const old = signLoginState(key, '/', new Date(Date.now() - 2 * 3600 * 1000));
    expect(verifyLoginState(key, old)).toBeUndefined();
  });
});

describe('csrf tokens', () => {
  it('are derived from the session token and must match header and cookie', () => {
    const csrf = csrfTokenFor(key, 'token-a');
    expect(csrf).toMatch(/^[0-9a-f]{64}$/);
    expect(csrfMatches(key, 'token-a', csrf, csrf)).toBe(true);
    expect(csrfMatches(key, 'token-b', csrf, csrf)).toBe(false);
    expect(csrfMatches(key, 'token-a', csrf, undefined)).toBe(false);
    expect(csrfMatches(key, 'token-a', undefined, csrf)).toBe(false);
    expect(csrfMatches(key, 'token-a', 'x'.repeat(64), 'x'.repeat(64))).toBe(false);
  });
});
