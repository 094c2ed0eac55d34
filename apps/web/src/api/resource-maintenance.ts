// Maintenance of a pipeline's resources and resource types (Concourse's ClearResourceCache, ListSharedFor*,
// Clear*Versions): `fly clear-resource-cache` and `fly clear-versions`. Registered by resourceRoutes.
import { clearScopeVersions, findResource, findResourceTypeScope, listScopeSharers } from '@jetbridge/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { pathParam } from '../auth/requested-pipeline.js';
import { HttpError } from '../http-error.js';
import { sendJsonApiNotFound } from './json-api-not-found.js';
import { requirePipeline } from './pipelines.js';

/** The resource's or type's scope (null: never checked); a 404 when no such active resource or type. */
type ScopeLookup = (request: FastifyRequest, ctx: AppContext) => Promise<number | null>;

const resourceScope: ScopeLookup = async (request, ctx) => {
  const pipeline = await requirePipeline(request, ctx);
  const resource = await findResource(ctx.db, pipeline.id, pathParam(request, 'resource_name'));
  if (!resource) throw HttpError.notFound();
  return resource.resourceConfigScopeId;
};

const resourceTypeScope: ScopeLookup = async (request, ctx) => {
  const pipeline = await requirePipeline(request, ctx);
  const type = await findResourceTypeScope(ctx.db, pipeline.id, pathParam(request, 'resource_type_name'));
  if (!type) throw HttpError.notFound();
  return type.scopeId;
};

export function resourceMaintenanceRoutes(app: FastifyInstance, ctx: AppContext): void {
  const P = '/api/v1/teams/:team_name/pipelines/:pipeline_name';
  const R = `${P}/resources/:resource_name`;
  const RT = `${P}/resource-types/:resource_type_name`;

  for (const [base, scopeOf, nameParam] of [
    [R, resourceScope, 'resource_name'],
    [RT, resourceTypeScope, 'resource_type_name'],
  ] as const) {
    // Admins only, as in Concourse: a scope may be shared across teams.
    app.get(`${base}/shared`, { config: { access: { kind: 'admin' } } }, async (request, reply) => {
      const scopeId = await scopeOf(request, ctx);
      if (scopeId === null) {
        // Concourse's ResourceHasNoScopeErr, with its text; a 404 (nothing to list yet), not Concourse's 500.
        return reply
          .code(404)
          .type('text/plain')
          .send(`resource/resource-type ${pathParam(request, nameParam)} has no scope`);
      }
      return listScopeSharers(ctx.db, scopeId);
    });

    app.delete(`${base}/versions`, { config: { access: { kind: 'admin' } } }, async (request) => {
      const scopeId = await scopeOf(request, ctx);
      const removed = scopeId === null ? 0 : await clearScopeVersions(ctx.db, scopeId);
      request.log.info({ scopeId, removed }, 'cleared resource versions');
      return { versions_removed: removed };
    });
  }

  app.delete(
    `${R}/cache`,
    { config: { access: { kind: 'team', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const body = request.body;
      if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
        throw HttpError.badRequest();
      const pipeline = await requirePipeline(request, ctx);
      const name = pathParam(request, 'resource_name');
      if (!(await findResource(ctx.db, pipeline.id, name)))
        return sendJsonApiNotFound(reply, 'Resource', name);
      // Every get step runs `in` afresh (no resource caches are kept), so there is nothing to remove.
      return { caches_removed: 0 };
    },
  );
}
