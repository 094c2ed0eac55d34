// `GET /api/v1/teams/:team_name/volumes` (concourse-api.md §1.8, §2.13; Concourse's atc/api/volumeserver):
// the team's volumes on the worker. Volume JSON has no omitempty: absent things are "", 0 or null.
import type { VolumeInfo } from '@jetbridge/runtime';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';

export function presentVolume(volume: VolumeInfo): Record<string, unknown> {
  return {
    id: volume.handle,
    worker_name: volume.workerName,
    type: volume.type,
    container_handle: '',
    path: volume.path,
    parent_handle: '',
    resource_type: null,
    base_resource_type: null,
    pipeline_id: 0,
    pipeline_name: '',
    pipeline_instance_vars: null,
    job_name: '',
    step_name: volume.owner.kind === 'step' ? volume.owner.stepName : '',
  };
}

export async function volumeRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Params: { team_name: string } }>(
    '/api/v1/teams/:team_name/volumes',
    { config: { access: { kind: 'team', role: 'viewer' } } },
    async (request) => {
      const volumes = await ctx.worker.listVolumes();
      return volumes.filter((volume) => volume.teamName === request.params.team_name).map(presentVolume);
    },
  );
}
