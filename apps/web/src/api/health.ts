import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';

/**
 * `GET /api/v1/health` (Concourse HEAD's shape): 200 when the database answers and the runtime is up,
 * 503 otherwise. Kubernetes probes use it; it needs no token.
 */
export async function healthRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/health', { config: { access: { kind: 'open' } } }, async (_request, reply) => {
    let database: { status: 'ok' | 'failing'; error?: string } = { status: 'ok' };
    try {
      await ctx.pool.query('select 1');
    } catch (err) {
      database = { status: 'failing', error: err instanceof Error ? err.message : String(err) };
    }
    const workers = { status: 'ok', total: 1, running: 1 };
    const healthy = database.status === 'ok';
    reply.code(healthy ? 200 : 503);
    return {
      status: healthy ? 'ok' : 'failing',
      timestamp: new Date().toISOString(),
      database,
      workers,
      components: [],
    };
  });

  // With --prometheus-bind-port the metrics have a listener of their own (server.ts), as in Concourse.
  if (ctx.config.prometheus) return;
  app.get('/metrics', { config: { access: { kind: 'open' } } }, async (_request, reply) => {
    reply.header('content-type', ctx.metrics.contentType);
    return ctx.metrics.metrics();
  });
}
