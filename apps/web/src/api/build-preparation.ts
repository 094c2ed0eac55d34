// `GET /api/v1/builds/:build_id/preparation` (concourse-api.md §2.6, Concourse's buildserver/preparation.go):
// why a pending job build has not started yet, as the scheduler sees it.
import { findBuildPreparation, type BuildPreparation } from '@jetbridge/scheduler';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { HttpError } from '../http-error.js';

/** Go encodes maps with their keys sorted bytewise. */
function sortedObject<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  );
}

/** `atc.BuildPreparation`, fields in its order. */
export function presentBuildPreparation(preparation: BuildPreparation): Record<string, unknown> {
  return {
    build_id: preparation.buildId,
    paused_pipeline: preparation.pausedPipeline,
    paused_job: preparation.pausedJob,
    max_running_builds: preparation.maxRunningBuilds,
    inputs: sortedObject(preparation.inputs),
    inputs_satisfied: preparation.inputsSatisfied,
    missing_input_reasons: sortedObject(preparation.missingInputReasons),
  };
}

const buildIdParams = {
  type: 'object',
  properties: { build_id: { type: 'string' } },
  required: ['build_id'],
} as const;

export async function buildPreparationRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Params: { build_id: string } }>(
    '/api/v1/builds/:build_id/preparation',
    { config: { access: { kind: 'build-read' } }, schema: { params: buildIdParams } },
    async (request) => {
      const id = request.authorizedBuild?.id ?? Number(request.params.build_id);
      const preparation = Number.isSafeInteger(id) ? await findBuildPreparation(ctx.db, id) : undefined;
      if (!preparation) throw HttpError.notFound();
      return presentBuildPreparation(preparation);
    },
  );
}
