// `GET /api/v1/workers` (concourse-api.md §1.8, §2.11; Concourse's atc/api/workerserver): the runtime's
// worker as Concourse presents a registered worker. JetBridge has exactly one, and it is always running.
import type { WorkerInfo } from '@jetbridge/runtime';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { WORKER_VERSION } from '../version.js';

/** `atc.Worker`, every non-omitempty field present. */
export function presentWorker(info: WorkerInfo): Record<string, unknown> {
  return {
    addr: '',
    baggageclaim_url: '',
    active_containers: info.activeContainers,
    active_volumes: info.activeVolumes,
    active_tasks: 0,
    max_active_tasks: 0,
    resource_types: info.resourceTypes.map((type) => ({ ...type, unique_version_history: false })),
    platform: 'linux',
    tags: info.tags,
    team: info.team,
    name: info.name,
    // What `fly workers` checks against /api/v1/info's worker_version: the same constant, so never "outdated".
    version: WORKER_VERSION,
    start_time: info.startTime,
    ephemeral: false,
    state: 'running',
  };
}

export async function workerRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/workers', { config: { access: { kind: 'any-team' } } }, async (request) => {
    const info = ctx.worker.info();
    // A team's worker is listed to that team (and admins) only; a global worker to everyone.
    if (info.team !== '' && !request.accessor.hasTeamRole(info.team, 'viewer')) return [];
    return [presentWorker(info)];
  });
}
