import { describe, expect, it } from '@jest/globals';
import { sanitizeRedirectUri } from './sky-login.js';

const pathOf = (uri: string) => {
  const url = sanitizeRedirectUri(uri);
  return url ? `${url.pathname}${url.search}` : undefined;
};

describe('sanitizeRedirectUri (no open redirects)', () => {
  it('keeps relative paths with their query', () => {
    expect(pathOf('/fly_success?fly_port=1234')).toBe('/fly_success?fly_port=1234');
    expect(pathOf('/')).toBe('/');
    expect(pathOf('teams/main')).toBe('/teams/main');
  });

  it('turns absolute and protocol-relative URLs into paths on this server', () => {
    expect(pathOf('//evil.example/x')).toBe('/evil.example/x');
    expect(pathOf('https://evil.example/x')).toBe('/https://evil.example/x');
    expect(pathOf('%2F%2Fevil.example')).toBe('/evil.example');
  });

  it('refuses backslashes, tabs that would make a host, and endless encodings', () => {
    expect(pathOf('/\\evil.example')).toBeUndefined();
    expect(pathOf('%5Cevil.example')).toBeUndefined();
    expect(pathOf('/\t/evil.example')).toBeUndefined();
    expect(pathOf('%2525252525252F')).toBeUndefined();
    expect(pathOf('%zz')).toBeUndefined();
  });
});
