import fastifyCookie from '@fastify/cookie';
import { listTeams, type PipelineWithoutConfig } from '@jetbridge/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { HttpError } from '../http-error.js';
import { enforceAccess, type AuthorizedBuild } from './access-check.js';
import { Accessor } from './accessor.js';
import { AuthChangeListener, notifyTeamsChanged } from './auth-change-listener.js';
import { resolveLocalUsers } from './bootstrap.js';
import { CSRF_HEADER, csrfMatches, isCsrfRequired } from './csrf.js';
import type { LocalLoginServices } from './local-login.js';
import { LocalUserDirectory } from './local-users.js';
import { clearSessionCookies, readAuthCookie, readCsrfCookie } from './session-cookies.js';
import { loadSessionSigningKey } from './session-key.js';
import { TeamsCache } from './teams-cache.js';
import { TokenClaimsCache } from './token-cache.js';
import { AccessTokenStore } from './token-store.js';
import { parseBearerCredential } from './tokens.js';

/** What the login endpoints share with the access check; available as `app.auth`. */
export interface AuthServices extends LocalLoginServices {
  /** Signs browser-login state and derives CSRF tokens. */
  signingKey: Buffer;
  /** Session cookies get `Secure` when the external URL is https. */
  secureCookies: boolean;
  /**
   * Call after creating, changing, renaming or destroying a team (committed): this node's cached team list
   * is dropped at once, the other web nodes' when they hear the notification.
   */
  teamsChanged(): Promise<void>;
}

/** How often expired tokens are deleted. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Authentication and authorization for every route, in one place: reads the bearer token (header, or
 * the `skymarshal_auth` cookie of a browser session), checks CSRF for cookie sessions, builds
 * `request.accessor`, and enforces the route's `config.access` before the body is even read. Register it
 * before any route.
 */
export async function registerAuth(app: FastifyInstance, ctx: AppContext): Promise<AuthServices> {
  await app.register(fastifyCookie);

  const { localUsers } = await resolveLocalUsers(ctx.config);
  // Auth data is cached per node (Concourse's teams and claims cachers) only while this node hears the
  // changes other nodes make; see auth-change-listener.ts.
  const tokenCache = new TokenClaimsCache();
  const teamsCache = new TeamsCache({ load: () => listTeams(ctx.db), isTrusted: () => listener.isListening });
  const listener = new AuthChangeListener(
    // pg-pool keeps the password as a non-enumerable property: a spread copy would lose it.
    { ...ctx.pool.options, password: ctx.pool.options.password },
    {
      teamsChanged: () => teamsCache.invalidate(),
      tokenRevoked: (digest) => tokenCache.delete(digest),
      reset: () => {
        teamsCache.invalidate();
        tokenCache.clear();
      },
    },
    ctx.logger,
  );
  await listener.start();
  app.addHook('onClose', async () => listener.stop());

  const services: AuthServices = {
    tokens: new AccessTokenStore(ctx.db, { cache: tokenCache, isTrusted: () => listener.isListening }),
    localUsers: new LocalUserDirectory(localUsers),
    issuer: `${ctx.config.externalUrl}/sky/issuer`,
    tokenLifetimeMs: ctx.config.authDurationMs,
    signingKey: await loadSessionSigningKey(ctx.db, ctx.config.sessionSigningKeyFile),
    secureCookies: ctx.config.externalUrl.startsWith('https:'),
    teamsChanged: async () => {
      teamsCache.invalidate();
      await notifyTeamsChanged(ctx.db);
    },
  };
  app.decorate('auth', services);
  // Set per request in the hook below (Fastify wants null, not a shared object, as the initial value).
  app.decorateRequest('accessor', null as unknown as Accessor);
  app.decorateRequest('authorizedBuild', null);
  app.decorateRequest('authorizedPipeline', null);

  // Requests that came with a session cookie: a 401 to them also clears the cookies (web_auth_handler.go).
  const cookieSessions = new WeakSet<FastifyRequest>();

  app.addHook('onRequest', async (request) => {
    request.accessor = Accessor.anonymous();
    const rule = request.routeOptions.config?.access;
    if (!rule || rule.kind === 'public') return;

    const header = request.headers.authorization;
    const cookie = readAuthCookie(request);
    const isApi = request.url.startsWith('/api/v1/');
    if (cookie !== undefined && isApi) {
      cookieSessions.add(request);
      if (isCsrfRequired(request.method)) {
        const cookieToken = parseBearerCredential(cookie);
        const csrfHeader = request.headers[CSRF_HEADER];
        const given = typeof csrfHeader === 'string' ? csrfHeader : undefined;
        if (!cookieToken || !csrfMatches(services.signingKey, cookieToken, given, readCsrfCookie(request))) {
          throw new HttpError(401, 'missing or mismatched CSRF token', '');
        }
      }
    }

    // The header wins; the cookie stands in for it when absent (as the ATC copies it into Authorization).
    const credential = header !== undefined && header !== '' ? header : cookie;
    if (credential !== undefined) {
      const token = parseBearerCredential(credential);
      const claims = token === undefined ? undefined : await services.tokens.verify(token);
      request.accessor = claims
        ? Accessor.authenticated(claims, await teamsCache.get())
        : Accessor.anonymous(true);
    }
    const grant = await enforceAccess(rule, request.accessor, request, ctx.db);
    request.authorizedBuild = grant.build;
    request.authorizedPipeline = grant.pipeline;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 401 && cookieSessions.has(request))
      clearSessionCookies(reply, services.secureCookies);
    return payload;
  });

  const purge = async () => {
    try {
      const removed = await services.tokens.purgeExpired();
      if (removed > 0) ctx.logger.debug({ removed }, 'purged expired access tokens');
    } catch (err) {
      ctx.logger.warn({ err }, 'could not purge expired access tokens');
    }
  };
  void purge();
  const timer = setInterval(() => void purge(), PURGE_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  return services;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Token store, local users and signing key, for the login endpoints. */
    auth: AuthServices;
  }
  interface FastifyRequest {
    /** Who is calling; anonymous until the auth hook has run. */
    accessor: Accessor;
    /** On build-read/build-write routes: the build the access check found. Null elsewhere. */
    authorizedBuild: AuthorizedBuild | null;
    /** On pipeline/team-pipeline routes: the pipeline the access check found. Null elsewhere. */
    authorizedPipeline: PipelineWithoutConfig | null;
  }
}
