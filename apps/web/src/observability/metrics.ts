import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type pg from 'pg';
import { buildMetrics } from './build-metrics.js';

/** A registry per server (not prom-client's global one), so tests can run several servers in one process. */
export function createMetricsRegistry(pools: Partial<Record<'api' | 'backend', pg.Pool>> = {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Build, step, scheduler and checker metrics exist from the start (zero until something happens), so
  // dashboards and alerts see 0 rather than "no data" on a node that has not run a build yet.
  buildMetrics(registry);
  const named = Object.entries(pools).filter((entry): entry is [string, pg.Pool] => entry[1] !== undefined);
  if (named.length > 0) {
    new Gauge({
      name: 'jetbridge_db_connections',
      // `dbname` as in Concourse's concourse_db_connections: its two pools are named api and backend too.
      help: 'PostgreSQL connections of the api and backend pools (dbname), by state.',
      labelNames: ['dbname', 'state'],
      registers: [registry],
      collect() {
        for (const [dbname, pool] of named) {
          this.set({ dbname, state: 'total' }, pool.totalCount);
          this.set({ dbname, state: 'idle' }, pool.idleCount);
          this.set({ dbname, state: 'waiting' }, pool.waitingCount);
        }
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
