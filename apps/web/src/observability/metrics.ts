import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type pg from 'pg';
import { buildMetrics } from './build-metrics.js';

/** A registry per server (not prom-client's global one), so tests can run several servers in one process. */
export function createMetricsRegistry(pool?: pg.Pool): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Build, step, scheduler and checker metrics exist from the start (zero until something happens), so
  // dashboards and alerts see 0 rather than "no data" on a node that has not run a build yet.
  buildMetrics(registry);
  if (pool) {
    new Gauge({
      name: 'jetbridge_db_connections',
      help: 'PostgreSQL connections of the pool, by state.',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }
  return registry;
}

/** HTTP request duration by method, route pattern (not raw URL: bounded cardinality) and status. */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests, by route and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
