import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { healthRoutes } from './api/health.js';
import { infoRoutes } from './api/info.js';
import type { AppContext } from './app-context.js';
import { databaseInputError } from './database-input-errors.js';
import { HttpError } from './http-error.js';
import { registerHttpMetrics } from './observability/metrics.js';
import { CONCOURSE_VERSION } from './version.js';
import type { AccessRule } from './auth/access-rule.js';
import { registerAuth } from './auth/auth-plugin.js';
import { registerBodyParsers } from './body-parsers.js';
import { uiRoutes } from './ui/serve-ui.js';

/** An API area: a function that registers its routes, each declaring `config.access`. */
export type ApiArea = (app: FastifyInstance, ctx: AppContext) => Promise<void>;

export interface RegisteredRoute {
  method: string;
  url: string;
  access: AccessRule;
}

/** The routes every server has; later areas (auth, teams, builds…) are passed in by the host. */
const coreAreas: ApiArea[] = [infoRoutes, healthRoutes];

/**
 * Build the Fastify app: logging with request ids, metrics, Concourse's response headers, error mapping,
 * and the API areas. Every route must declare who may call it; registering one without is a programming
 * error caught at start.
 */
export async function buildApp(ctx: AppContext, areas: ApiArea[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit: ctx.config.maxRequestBodyBytes,
    requestIdHeader: 'x-request-id',
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access rule`);
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, access });
    }
  });

  registerHttpMetrics(app, ctx.metrics);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (request.url.startsWith('/api/')) {
      reply.header('x-concourse-version', CONCOURSE_VERSION);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-download-options', 'noopen');
      reply.header('cache-control', 'no-store, private');
    }
  });

  // fly's set-pipeline rejects anything but exactly `application/json` (concourse-api.md §0.2).
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json'))
      reply.header('content-type', 'application/json');
    return payload;
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      if (typeof error.body === 'string') {
        reply.code(error.statusCode).type('text/plain').send(error.body);
      } else {
        reply.code(error.statusCode).type('application/json').send(error.body);
      }
      return;
    }
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      // Malformed JSON, bodies over the limit, unsupported media types: the client's mistake, said plainly.
      request.log.info({ err: error }, 'rejected request');
      reply.code(status).type('text/plain').send(error.message);
      return;
    }
    const inputError = databaseInputError(error);
    if (inputError) {
      request.log.info({ err: error }, 'rejected request');
      reply.code(inputError.statusCode).type('text/plain').send(inputError.body);
      return;
    }
    request.log.error({ err: error }, 'request failed');
    reply.code(500).type('text/plain').send('internal server error');
  });

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).type('text/plain').send('');
  });

  registerBodyParsers(app);
  // Before any route: every request is authenticated and checked against its route's access rule.
  await registerAuth(app, ctx);

  for (const area of [...coreAreas, ...areas]) {
    await area(app, ctx);
  }
  // The web UI: its catch-all `/*` only answers what no more specific route (API, login pages) matches.
  await uiRoutes()(app, ctx);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its access rule; the role-enforcement test walks this list. */
    registeredRoutes: RegisteredRoute[];
  }
}
