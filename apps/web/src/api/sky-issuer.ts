import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { SUPPORTED_SCOPES } from '../auth/claims.js';
import { loginLocalUser } from '../auth/local-login.js';
import { FLY_CLIENT } from '../auth/token-store.js';

/** RFC 6749 §5.2 error body, as dex writes it (`error_description` omitted when empty). */
function tokenError(reply: FastifyReply, status: number, error: string, description = '') {
  return reply
    .code(status)
    .type('application/json')
    .send(description ? { error, error_description: description } : { error });
}

/** Go's `url.QueryUnescape`: `+` is a space; a bad `%` escape is an error (undefined). */
function queryUnescape(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Go's `Request.BasicAuth`: undefined when there is no (well-formed) Basic header. */
function basicAuth(request: FastifyRequest): { id: string; secret: string } | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ')
    return undefined;
  const encoded = header.slice(6);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Go's `%q` of a string slice: `["a" "b"]`. */
function goQuotedList(items: readonly string[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(' ')}]`;
}

/**
 * The OAuth issuer fly logs in against (`/sky/issuer`, dex in Concourse). Only the password grant of
 * `fly login -u -p` is served (concourse-api.md §5.2), with dex's statuses and error bodies: unsupported
 * grant 400, bad client 401 `invalid_client`, bad scopes 400 `invalid_request`, wrong username/password 401
 * `access_denied`. The access token handed out is the opaque skymarshal token, not dex's.
 */
export async function skyIssuerRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const issuer = app.auth.issuer;

  app.post('/sky/issuer/token', { config: { access: { kind: 'public' } } }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();

    if (form.get('grant_type') !== 'password') return tokenError(reply, 400, 'unsupported_grant_type');

    // Client credentials in Basic auth, or (golang.org/x/oauth2's retry) in the form.
    let client = basicAuth(request);
    if (client) {
      const id = queryUnescape(client.id);
      const secret = queryUnescape(client.secret);
      if (id === undefined) return tokenError(reply, 400, 'invalid_request', 'client_id improperly encoded');
      if (secret === undefined)
        return tokenError(reply, 400, 'invalid_request', 'client_secret improperly encoded');
      client = { id, secret };
    } else {
      client = { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' };
    }
    if (client.id !== FLY_CLIENT.id || !sameSecret(client.secret, FLY_CLIENT.secret)) {
      request.log.info({ clientId: client.id }, 'token request with invalid client credentials');
      return tokenError(reply, 401, 'invalid_client', 'Invalid client credentials.');
    }

    const scopes = (form.get('scope') ?? '').split(/\s+/).filter((s) => s !== '');
    if (!scopes.includes('openid'))
      return tokenError(reply, 400, 'invalid_request', 'Missing required scope(s) ["openid"].');
    const unrecognized = scopes.filter((s) => !(SUPPORTED_SCOPES as readonly string[]).includes(s));
    if (unrecognized.length > 0) {
      return tokenError(reply, 400, 'invalid_request', `Unrecognized scope(s) ${goQuotedList(unrecognized)}`);
    }

    const username = form.get('username') ?? '';
    const issued = await loginLocalUser(app.auth, ctx.db, {
      username,
      password: form.get('password') ?? '',
      clientId: client.id,
      scopes,
    });
    if (!issued) {
      request.log.info({ username }, 'password grant refused');
      return tokenError(reply, 401, 'access_denied', 'Invalid username or password');
    }
    request.log.info({ username, sub: issued.claims.sub }, 'issued access token');
    return reply
      .code(200)
      .type('application/json')
      .send({
        access_token: issued.token,
        token_type: 'bearer',
        expires_in: Math.max(0, Math.round((issued.expiresAt.getTime() - Date.now()) / 1000)),
      });
  });

  // Standard discovery documents of the issuer; fly does not read them, other OAuth clients might.
  app.get(
    '/sky/issuer/.well-known/openid-configuration',
    { config: { access: { kind: 'public' } } },
    async () => ({
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/keys`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      grant_types_supported: ['password'],
      scopes_supported: [...SUPPORTED_SCOPES],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'iat',
        'exp',
        'email',
        'email_verified',
        'name',
        'preferred_username',
        'groups',
        'federated_claims',
      ],
    }),
  );

  app.get('/sky/issuer/keys', { config: { access: { kind: 'public' } } }, async () => ({ keys: [] }));
}
