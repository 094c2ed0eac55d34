import type { FastifyReply, FastifyRequest } from 'fastify';

/** Cookie names of Concourse's browser sessions (`skymarshal/token/middleware.go`). */
export const AUTH_COOKIE = 'skymarshal_auth';
export const CSRF_COOKIE = 'skymarshal_csrf';

/**
 * The session cookie's value (`bearer <token>`), or undefined when absent. Go clients quote cookie values
 * containing a space (`fly logout` sends `skymarshal_auth="bearer XYZ"`), so surrounding quotes are removed.
 */
export function readAuthCookie(request: FastifyRequest): string | undefined {
  return unquote(request.cookies[AUTH_COOKIE]);
}

export function readCsrfCookie(request: FastifyRequest): string | undefined {
  return unquote(request.cookies[CSRF_COOKIE]);
}

function unquote(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1);
  return value;
}

/** Set both cookies as Concourse does: HttpOnly, SameSite=Lax, Path=/, expiring with the token. */
export function setSessionCookies(
  reply: FastifyReply,
  session: { accessToken: string; csrfToken: string; expiresAt: Date; secure: boolean },
): void {
  const options = {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: session.secure,
    expires: session.expiresAt,
  };
  reply.setCookie(AUTH_COOKIE, `bearer ${session.accessToken}`, options);
  reply.setCookie(CSRF_COOKIE, session.csrfToken, options);
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  const options = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure };
  reply.clearCookie(AUTH_COOKIE, options);
  reply.clearCookie(CSRF_COOKIE, options);
}
