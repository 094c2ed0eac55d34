// Resources, resource types and versions (concourse-api.md §1.7, §2.8–2.10, §6.10–6.11; Concourse's
// atc/api/resourceserver and its versionserver): listing, versions a page at a time, enabling/disabling,
// pinning, and asking for checks (the check build is created pending; the checker runs it).
import { timingSafeEqual } from 'node:crypto';
import {
  createResourceCheckBuild,
  createResourceTypeCheckBuild,
  findResourceTypeScope,
  findPipelineBuilds,
  findResource,
  findResourceVersion,
  listBuildsWithVersionAsInput,
  listBuildsWithVersionAsOutput,
  listResources,
  listResourceTypes,
  listResourceVersions,
  listVisibleResources,
  pinResourceVersion,
  setPinComment,
  setResourceVersionEnabled,
  unpinResource,
  type Json,
  type PipelineWithoutConfig,
  type ResourceRecord,
  type ResourceVersionRecord,
} from '@jetbridge/db';
import { varReferences } from '@jetbridge/pipeline-config';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { findRequestedPipeline, pathParam, requestQuery } from '../auth/requested-pipeline.js';
import { interpolateString, noCredentials, pipelineVarsResolver } from '../creds/index.js';
import { HttpError } from '../http-error.js';
import { parseBuildPage } from './builds.js';
import {
  pageLinks,
  pipelinePath,
  presentBuildSummary,
  presentPipelineBuild,
  unixSeconds,
} from './pipeline-json.js';
import { pipelineSchedulingOf, type RequestedVersion } from './pipeline-scheduling.js';
import { requirePipeline } from './pipelines.js';
import { resourceMaintenanceRoutes } from './resource-maintenance.js';

async function requireResource(
  request: FastifyRequest,
  ctx: AppContext,
  pipeline: PipelineWithoutConfig,
): Promise<ResourceRecord> {
  const resource = await findResource(ctx.db, pipeline.id, pathParam(request, 'resource_name'));
  if (!resource) throw HttpError.notFound();
  return resource;
}

/** `:resource_config_version_id` as Go's strconv.Atoi reads it; undefined when it is not a number. */
function versionIdParam(request: FastifyRequest): number | undefined {
  const text = pathParam(request, 'resource_config_version_id');
  if (!/^[+-]?\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id > 2 ** 31 - 1 ? undefined : id;
}

/** `atc.Resource` (`present.Resource`), with the latest check build as a summary. */
async function presentResources(
  ctx: AppContext,
  resources: ResourceRecord[],
): Promise<Array<Record<string, unknown>>> {
  const checkIds = resources.flatMap((resource) =>
    resource.lastCheckBuildId === null ? [] : [resource.lastCheckBuildId],
  );
  const checks = new Map((await findPipelineBuilds(ctx.db, checkIds)).map((build) => [build.id, build]));
  return resources.map((resource) => {
    const json: Record<string, unknown> = {
      name: resource.name,
      pipeline_id: resource.pipelineId,
      pipeline_name: resource.pipelineName,
    };
    if (resource.pipelineInstanceVars !== null && Object.keys(resource.pipelineInstanceVars).length > 0) {
      json['pipeline_instance_vars'] = resource.pipelineInstanceVars;
    }
    json['team_name'] = resource.teamName;
    json['type'] = resource.type;
    const check = resource.lastCheckBuildId === null ? undefined : checks.get(resource.lastCheckBuildId);
    const lastChecked = resource.lastCheckEndTime ?? check?.endTime ?? null;
    if (lastChecked) json['last_checked'] = unixSeconds(lastChecked);
    const icon = resource.config?.['icon'];
    if (typeof icon === 'string' && icon !== '') json['icon'] = icon;
    if (resource.pinnedVersion !== null) {
      json['pinned_version'] = resource.pinnedVersion;
      if (resource.pinnedInConfig) json['pinned_in_config'] = true;
    }
    if (resource.pinComment) json['pin_comment'] = resource.pinComment;
    if (check) json['build'] = presentBuildSummary(check);
    return json;
  });
}

/** `atc.ResourceVersion`; metadata left out for callers who may not see it. */
function presentVersion(version: ResourceVersionRecord, hideMetadata: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = { id: version.id };
  if (!hideMetadata && version.metadata !== null && version.metadata.length > 0)
    json['metadata'] = version.metadata;
  json['version'] = version.version;
  json['enabled'] = version.enabled;
  return json;
}

/** `filter=key:value` query values (repeatable); values without a colon are ignored, as in Concourse. */
function versionFilter(query: URLSearchParams): Record<string, string> {
  const filter: Record<string, string> = {};
  for (const field of query.getAll('filter')) {
    const colon = field.indexOf(':');
    if (colon !== -1) filter[field.slice(0, colon)] = field.slice(colon + 1);
  }
  return filter;
}

/** `atc.ResourceType` list: each type's source with its parent type's `defaults` merged under it. */
function presentResourceTypes(
  types: Array<{ name: string; type: string; config: Record<string, Json> | null }>,
) {
  return types.map((resourceType) => {
    const config = resourceType.config ?? { name: resourceType.name, type: resourceType.type, source: null };
    const parent = types.find((other) => other !== resourceType && other.name === resourceType.type);
    const defaults = parent?.config?.['defaults'];
    const source = config['source'] ?? null;
    const merged =
      isObject(defaults) && Object.keys(defaults).length > 0
        ? { ...defaults, ...(isObject(source) ? source : {}) }
        : source;
    return { ...config, source: merged };
  });
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body of `POST …/check`: `{"from": Version|null, "shallow": bool}` (anything else is a 400). */
function checkRequest(body: unknown): { from: RequestedVersion | null; shallow: boolean } {
  if (!isObject(body)) throw HttpError.badRequest();
  const { from, shallow } = body as { from?: unknown; shallow?: unknown };
  if (shallow !== undefined && shallow !== null && typeof shallow !== 'boolean') throw HttpError.badRequest();
  if (
    from !== undefined &&
    from !== null &&
    (!isObject(from) || !Object.values(from).every((v) => typeof v === 'string'))
  ) {
    throw HttpError.badRequest();
  }
  const version = isObject(from) && Object.keys(from).length > 0 ? (from as RequestedVersion) : null;
  return { from: version, shallow: shallow === true };
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function resourceRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const scheduling = pipelineSchedulingOf(ctx);
  const P = '/api/v1/teams/:team_name/pipelines/:pipeline_name';
  const R = `${P}/resources/:resource_name`;
  const V = `${R}/versions/:resource_config_version_id`;
  resourceMaintenanceRoutes(app, ctx);

  app.get('/api/v1/resources', { config: { access: { kind: 'open' } } }, async (request) => {
    const accessor = request.accessor;
    return presentResources(
      ctx,
      await listVisibleResources(ctx.db, accessor.isAdmin ? undefined : accessor.visibleTeamNames()),
    );
  });

  app.get(`${P}/resources`, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    return presentResources(ctx, await listResources(ctx.db, pipeline.id));
  });

  app.get(R, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    const [json] = await presentResources(ctx, [await requireResource(request, ctx, pipeline)]);
    return json;
  });

  app.get(`${P}/resource-types`, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    return presentResourceTypes(await listResourceTypes(ctx.db, pipeline.id));
  });

  app.post(
    `${R}/check`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const { from, shallow } = checkRequest(request.body);
      const resource = await requireResource(request, ctx, pipeline);
      const build = await createResourceCheckBuild(ctx.db, resource.id, {
        createdBy: request.accessor.displayUserId,
        manuallyTriggered: true,
      });
      if (!build) throw HttpError.notFound();
      request.log.info(
        { buildId: build.id, resource: resource.name, from, shallow },
        'resource check requested',
      );
      scheduling.checkRequested({ buildId: build.id, resourceId: resource.id, from, shallow });
      reply.code(201);
      return presentPipelineBuild(build, { showComment: false });
    },
  );

  // `fly check-resource-type`: a check build of the type's image resource, run by the checker.
  app.post(
    `${P}/resource-types/:resource_type_name/check`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const { from, shallow } = checkRequest(request.body);
      const type = await findResourceTypeScope(ctx.db, pipeline.id, pathParam(request, 'resource_type_name'));
      if (!type) throw HttpError.notFound();
      const build = await createResourceTypeCheckBuild(ctx.db, type.id, {
        createdBy: request.accessor.displayUserId,
      });
      if (!build) throw HttpError.notFound();
      request.log.info(
        { buildId: build.id, resourceTypeId: type.id, from, shallow },
        'resource type check requested',
      );
      void ctx.resourceTypeChecker?.run({ buildId: build.id, resourceTypeId: type.id, from, shallow });
      reply.code(201);
      return presentPipelineBuild(build, { showComment: false });
    },
  );

  app.post(`${R}/check/webhook`, { config: { access: { kind: 'open' } } }, async (request, reply) => {
    const found = await findRequestedPipeline(request, ctx.db);
    if (!found.found)
      throw found.reason === 'bad-instance-vars' ? HttpError.badRequest() : HttpError.notFound();
    const token = requestQuery(request).get('webhook_token') ?? '';
    if (token === '') throw HttpError.badRequest();
    const resource = await requireResource(request, ctx, found.pipeline);
    let expected = resource.webhookToken ?? '';
    // The token may use ((vars)), evaluated with the pipeline's credentials at request time.
    if (varReferences(expected).length > 0) {
      try {
        expected = await interpolateString(
          expected,
          pipelineVarsResolver(ctx.credentials ?? noCredentials, {
            teamName: found.pipeline.teamName,
            pipelineName: found.pipeline.name,
          }),
        );
      } catch (err) {
        request.log.info({ err, resource: resource.name }, 'failed to evaluate the webhook token');
        throw new HttpError(500, 'failed to evaluate the webhook token', '');
      }
    }
    if (!sameToken(token, expected)) throw new HttpError(401, 'invalid webhook token', '');
    const build = await createResourceCheckBuild(ctx.db, resource.id, {
      createdBy: null,
      manuallyTriggered: true,
    });
    if (!build) throw HttpError.notFound();
    request.log.info({ buildId: build.id, resource: resource.name }, 'resource check requested by webhook');
    scheduling.checkRequested({ buildId: build.id, resourceId: resource.id, from: null, shallow: true });
    reply.code(201);
    return presentPipelineBuild(build, { showComment: false });
  });

  app.get(`${R}/versions`, { config: { access: { kind: 'pipeline' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    const resource = await requireResource(request, ctx, pipeline);
    const query = requestQuery(request);
    const page = parseBuildPage(Object.fromEntries(query));
    const result = await listResourceVersions(
      ctx.db,
      resource.id,
      {
        limit: page.limit,
        ...(page.from !== undefined ? { from: page.from } : {}),
        ...(page.to !== undefined ? { to: page.to } : {}),
      },
      versionFilter(query),
    );
    if (!result) throw HttpError.notFound();
    const base = `${ctx.config.externalUrl}${pipelinePath(pipeline)}/resources/${encodeURIComponent(resource.name)}/versions`;
    const links = pageLinks(base, result, page.limit, pipeline.instanceVars);
    if (links.length > 0) reply.header('link', links);
    const hideMetadata =
      !resource.public && !request.accessor.hasTeamRole(pathParam(request, 'team_name'), 'viewer');
    return result.versions.map((version) => presentVersion(version, hideMetadata));
  });

  app.get(V, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    const versionId = versionIdParam(request);
    if (versionId === undefined) throw HttpError.badRequest();
    const resource = await requireResource(request, ctx, pipeline);
    const version = await findResourceVersion(ctx.db, resource.id, versionId);
    if (!version) throw HttpError.notFound();
    const hideMetadata =
      !resource.public && !request.accessor.hasTeamRole(pathParam(request, 'team_name'), 'viewer');
    return presentVersion(version, hideMetadata);
  });

  for (const action of ['enable', 'disable'] as const) {
    app.put(
      `${V}/${action}`,
      { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
      async (request, reply) => {
        const pipeline = await requirePipeline(request, ctx);
        const resource = await requireResource(request, ctx, pipeline);
        const versionId = versionIdParam(request);
        if (versionId === undefined) throw HttpError.badRequest();
        // Concourse answers 500 to both; bad input is never a 500 here: fly shows its own "make sure the
        // resource version exists" on the 404, and the 409 as an unexpected response, as it did the 500.
        if (!(await findResourceVersion(ctx.db, resource.id, versionId))) throw HttpError.notFound();
        if (!(await setResourceVersionEnabled(ctx.db, resource.id, versionId, action === 'enable'))) {
          throw HttpError.conflict(`version ${versionId} is already ${action}d`);
        }
        scheduling.scheduleRequested(`resource ${resource.id} version ${versionId} ${action}d`);
        return reply.code(200).send();
      },
    );
  }

  app.put(
    `${V}/pin`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const resource = await requireResource(request, ctx, pipeline);
      const versionId = versionIdParam(request);
      if (versionId === undefined) throw HttpError.badRequest();
      const result = await pinResourceVersion(ctx.db, resource.id, versionId);
      if (result === 'version-not-found') throw HttpError.notFound();
      // Concourse answers 500 (ErrPinnedThroughConfig); a conflict, as bad input is never a 500 here.
      if (result === 'pinned-in-config') throw HttpError.conflict('resource is pinned through config');
      scheduling.scheduleRequested(`resource ${resource.id} pinned`);
      return reply.code(200).send();
    },
  );

  app.put(
    `${R}/unpin`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const resource = await requireResource(request, ctx, pipeline);
      // An error in Concourse too (NonOneRowAffectedError → 500); a conflict here, never a 500 for bad input.
      if (!(await unpinResource(ctx.db, resource.id))) throw HttpError.conflict('resource is not pinned');
      scheduling.scheduleRequested(`resource ${resource.id} unpinned`);
      return reply.code(200).send();
    },
  );

  app.put(
    `${R}/pin_comment`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const resource = await requireResource(request, ctx, pipeline);
      const body = request.body;
      if (!isObject(body)) throw HttpError.badRequest();
      const comment = (body as { pin_comment?: unknown }).pin_comment;
      if (comment !== undefined && comment !== null && typeof comment !== 'string')
        throw HttpError.badRequest();
      await setPinComment(ctx.db, resource.id, typeof comment === 'string' ? comment : '');
      return reply.code(200).send();
    },
  );

  for (const [suffix, list] of [
    ['input_to', listBuildsWithVersionAsInput],
    ['output_of', listBuildsWithVersionAsOutput],
  ] as const) {
    app.get(`${V}/${suffix}`, { config: { access: { kind: 'pipeline' } } }, async (request) => {
      const pipeline = await requirePipeline(request, ctx);
      const resource = await requireResource(request, ctx, pipeline);
      // Concourse ignores a malformed id here (it reads as 0, which matches nothing).
      const builds = await list(ctx.db, resource.id, versionIdParam(request) ?? 0);
      return builds.map((build) => presentPipelineBuild(build, { showComment: false }));
    });
  }
}
