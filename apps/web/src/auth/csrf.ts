import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CSRF protection for browser sessions (concourse-api.md §5.5; `atc/api/auth/csrf_validation_handler.go`):
 * a request that carries the session cookie and may change state must echo the `skymarshal_csrf` cookie in
 * `X-Csrf-Token`. The value is derived from the session's token with the session signing key, so a cookie
 * planted by someone else does not pass either.
 */
export const CSRF_HEADER = 'x-csrf-token';

export function csrfTokenFor(signingKey: Buffer, accessToken: string): string {
  return createHmac('sha256', signingKey).update(`csrf\0${accessToken}`).digest('hex');
}

/** Concourse never checks GET, HEAD or OPTIONS: they do not change state. */
export function isCsrfRequired(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/** The header equals the cookie, and both are the token's own CSRF value. */
export function csrfMatches(
  signingKey: Buffer,
  accessToken: string,
  header: string | undefined,
  cookie: string | undefined,
): boolean {
  if (!header || !cookie || header !== cookie) return false;
  const expected = Buffer.from(csrfTokenFor(signingKey, accessToken));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
