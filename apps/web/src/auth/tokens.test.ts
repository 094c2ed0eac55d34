import { describe, expect, it } from '@jest/globals';
import { generateAccessToken, parseAccessTokenExpiry, parseBearerCredential } from './tokens.js';

describe('access token format', () => {
  it('is 38 characters of unpadded standard base64 holding 20 random bytes and the expiry', () => {
    const expiry = new Date('2031-02-03T04:05:06Z');
    const token = generateAccessToken(expiry);
    expect(token).toMatch(/^[A-Za-z0-9+/]{38}$/);
    const raw = Buffer.from(token, 'base64');
    expect(raw).toHaveLength(28);
    expect(raw.readBigUInt64LE(20)).toBe(BigInt(expiry.getTime() / 1000));
    expect(parseAccessTokenExpiry(token)).toEqual(expiry);
  });

  it('is different every time', () => {
    const expiry = new Date();
    const tokens = new Set(Array.from({ length: 50 }, () => generateAccessToken(expiry)));
    expect(tokens.size).toBe(50);
  });

  it('does not decode things of another shape', () => {
    expect(parseAccessTokenExpiry('not-a-token')).toBeUndefined();
    expect(parseAccessTokenExpiry('')).toBeUndefined();
    expect(parseAccessTokenExpiry(`${generateAccessToken(new Date())}==`)).toBeUndefined();
  });
});

describe('parseBearerCredential', () => {
  it('accepts the scheme in any case, as Concourse does', () => {
    expect(parseBearerCredential('Bearer abc')).toBe('abc');
    expect(parseBearerCredential('bearer abc')).toBe('abc');
    expect(parseBearerCredential('BEARER abc')).toBe('abc');
  });

  it('refuses anything but exactly two space-separated parts', () => {
    expect(parseBearerCredential('Basic abc')).toBeUndefined();
    expect(parseBearerCredential('Bearer')).toBeUndefined();
    expect(parseBearerCredential('Bearer  abc')).toBeUndefined();
    expect(parseBearerCredential('Bearer abc def')).toBeUndefined();
    expect(parseBearerCredential('abc')).toBeUndefined();
  });
});
