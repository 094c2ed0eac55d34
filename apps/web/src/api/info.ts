import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { CONCOURSE_VERSION, WORKER_VERSION } from '../version.js';

/** `GET /api/v1/info`: the version fly checks before every command (concourse-api.md §2.1, §6.1). */
export async function infoRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/info', { config: { access: { kind: 'open' } } }, async () => ({
    version: CONCOURSE_VERSION,
    worker_version: WORKER_VERSION,
    feature_flags: {
      global_resources: false,
      build_rerun: true,
      cache_streamed_volumes: false,
      resource_causality: false,
    },
    external_url: ctx.config.externalUrl,
    ...(ctx.config.clusterName ? { cluster_name: ctx.config.clusterName } : {}),
  }));
}
