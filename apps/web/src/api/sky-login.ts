import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { SUPPORTED_SCOPES } from '../auth/claims.js';
import { csrfTokenFor } from '../auth/csrf.js';
import { loginLocalUser } from '../auth/local-login.js';
import { signLoginState, verifyLoginState } from '../auth/login-state.js';
import { clearSessionCookies, readAuthCookie, setSessionCookies } from '../auth/session-cookies.js';
import { WEB_CLIENT_ID } from '../auth/token-store.js';
import { parseBearerCredential } from '../auth/tokens.js';

const PUBLIC = { access: { kind: 'public' } } as const;

/** The login pages are ours alone: nothing loaded from elsewhere, no framing, no inline script. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store, private',
  'referrer-policy': 'no-referrer',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#1e1e1e;color:#eee;display:flex;justify-content:center;padding-top:10vh;margin:0}
main{background:#2b2b2b;padding:2em;border-radius:6px;min-width:20em;max-width:40em}
label{display:block;margin-top:1em}input{width:100%;box-sizing:border-box;padding:.5em;margin-top:.3em}
button{margin-top:1.5em;padding:.6em 1.5em}.error{color:#ff6b6b}code{word-break:break-all;background:#111;padding:.3em;display:block}
a{color:#8ab4f8}
</style></head><body><main>${body}</main></body></html>`;
}

function sendPage(reply: FastifyReply, status: number, title: string, body: string) {
  return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(page(title, body));
}

function loginForm(state: string, error?: string): string {
  return `<h1>Log in to JetBridge</h1>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/sky/login">
<input type="hidden" name="state" value="${escapeHtml(state)}">
<label>Username<input name="username" autocomplete="username" autofocus required></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>`;
}

/** Go's `url.QueryUnescape`, undefined on a bad escape. */
function queryUnescape(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

const PLACEHOLDER_ORIGIN = 'http://jetbridge.invalid';

/**
 * A post-login redirect target, made safe as skyserver's `Redirect` does: unescaped repeatedly (so stacked
 * encodings cannot hide a `/`), no backslashes, forced to a path on this server. Undefined when it cannot be
 * made safe. Returns the path with its query.
 */
export function sanitizeRedirectUri(redirectUri: string): URL | undefined {
  let uri = redirectUri;
  let settled = false;
  for (let i = 0; i < 5; i++) {
    const decoded = queryUnescape(uri);
    if (decoded === undefined) return undefined;
    if (decoded === uri) {
      settled = true;
      break;
    }
    uri = decoded;
  }
  if (!settled || uri.includes('\\')) return undefined;
  let url: URL;
  try {
    url = new URL(`/${uri.replace(/^\/+/, '')}`, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN || url.pathname.startsWith('//')) return undefined;
  return url;
}

/** `fly login`'s local callback port, when the redirect is fly's `/fly_success?fly_port=P`. */
function flyPortOf(target: URL): number | undefined {
  if (target.pathname !== '/fly_success') return undefined;
  const text = target.searchParams.get('fly_port') ?? '';
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Browser login (concourse-api.md §5.4), with a built-in username/password form instead of dex's pages:
 * `/login?fly_port=P` → `/sky/login?redirect_uri=/fly_success?fly_port=P` → form → POST sets the session
 * cookies and sends the browser to fly's local listener with the token (or to the relative redirect_uri).
 * Also `/sky/logout`, `/fly_success`, and the legacy `/logout`.
 */
export async function skyLoginRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const auth = app.auth;

  /** Set the session cookies for a token and send the browser on (skyserver's `Redirect`). */
  const completeLogin = (
    reply: FastifyReply,
    target: URL,
    token: string,
    expiresAt: Date,
    status: number,
  ) => {
    const csrfToken = csrfTokenFor(auth.signingKey, token);
    setSessionCookies(reply, { accessToken: token, csrfToken, expiresAt, secure: auth.secureCookies });
    const flyPort = flyPortOf(target);
    if (flyPort !== undefined) {
      // fly answers this top-level navigation with a redirect to /fly_success?noop=true.
      return reply.redirect(
        `http://127.0.0.1:${flyPort}/?token=${encodeURIComponent(`bearer ${token}`)}`,
        status,
      );
    }
    target.searchParams.set('csrf_token', csrfToken);
    return reply.redirect(`${target.pathname}${target.search}`, status);
  };

  /** The live token of the request's session cookie, if any. */
  const sessionOf = async (
    request: FastifyRequest,
  ): Promise<{ token: string; expiresAt: Date } | undefined> => {
    const cookie = readAuthCookie(request);
    const token = cookie === undefined ? undefined : parseBearerCredential(cookie);
    if (token === undefined) return undefined;
    const claims = await auth.tokens.verify(token);
    return claims ? { token, expiresAt: new Date(claims.exp * 1000) } : undefined;
  };

  app.get('/login', { config: PUBLIC }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const flyPort = typeof query.fly_port === 'string' ? query.fly_port : '';
    if (flyPort !== '') {
      // Exactly the legacy server's Location: `/sky/login?redirect_uri=/fly_success%3Ffly_port=P`.
      return reply.redirect(
        `/sky/login?redirect_uri=/fly_success%3Ffly_port=${encodeURIComponent(flyPort)}`,
        302,
      );
    }
    const q = request.url.indexOf('?');
    return reply.redirect(`/sky/login${q === -1 ? '' : request.url.slice(q)}`, 302);
  });

  app.get('/logout', { config: PUBLIC }, async (_request, reply) => reply.redirect('/sky/logout', 301));

  app.get('/sky/login', { config: PUBLIC }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const redirectUri =
      typeof query.redirect_uri === 'string' && query.redirect_uri !== '' ? query.redirect_uri : '/';
    const target = sanitizeRedirectUri(redirectUri);
    if (!target) return reply.code(400).type('text/plain').send('unsupported redirect_uri');
    const session = await sessionOf(request);
    if (session) return completeLogin(reply, target, session.token, session.expiresAt, 307);
    return sendPage(
      reply,
      200,
      'Log in to JetBridge',
      loginForm(signLoginState(auth.signingKey, redirectUri)),
    );
  });

  app.post('/sky/login', { config: PUBLIC }, async (request, reply) => {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const state = form.get('state') ?? '';
    const redirectUri = verifyLoginState(auth.signingKey, state);
    const target = redirectUri === undefined ? undefined : sanitizeRedirectUri(redirectUri);
    if (!target) return reply.code(400).type('text/plain').send('invalid state token');
    const username = form.get('username') ?? '';
    const issued = await loginLocalUser(auth, ctx.db, {
      username,
      password: form.get('password') ?? '',
      clientId: WEB_CLIENT_ID,
      scopes: SUPPORTED_SCOPES,
    });
    if (!issued) {
      request.log.info({ username }, 'browser login refused');
      return sendPage(reply, 401, 'Log in to JetBridge', loginForm(state, 'Invalid username or password.'));
    }
    request.log.info({ username, sub: issued.claims.sub }, 'browser login');
    // 303: the browser follows with a GET, whatever the target.
    return completeLogin(reply, target, issued.token, issued.expiresAt, 303);
  });

  // `fly logout` and the UI: revoke the cookie's token. A well-formed but stale token still logs out (200).
  app.get('/sky/logout', { config: PUBLIC }, async (request, reply) => {
    const cookie = readAuthCookie(request);
    const token = cookie === undefined ? undefined : parseBearerCredential(cookie);
    clearSessionCookies(reply, auth.secureCookies);
    if (token === undefined) return reply.code(401).send('');
    await auth.tokens.revoke(token);
    request.log.info('logged out');
    return reply.code(200).send('');
  });

  app.get('/fly_success', { config: PUBLIC }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (query.noop !== undefined) {
      return sendPage(
        reply,
        200,
        'Logged in',
        '<h1>Login successful</h1><p>Return to your terminal; you may close this window.</p>',
      );
    }
    const session = await sessionOf(request);
    if (!session) {
      return sendPage(
        reply,
        200,
        'Not logged in',
        '<h1>Not logged in</h1><p><a href="/sky/login">Log in</a></p>',
      );
    }
    const value = `bearer ${session.token}`;
    const target = sanitizeRedirectUri(request.url);
    const flyPort = target ? flyPortOf(target) : undefined;
    const link =
      flyPort === undefined
        ? ''
        : `<p><a href="http://127.0.0.1:${flyPort}/?token=${encodeURIComponent(value)}">Send the token to fly</a></p>`;
    return sendPage(
      reply,
      200,
      'Logged in',
      `<h1>Login successful</h1>${link}<p>Or paste this token into fly:</p><code>${escapeHtml(value)}</code>`,
    );
  });
}
