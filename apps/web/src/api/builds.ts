// Builds (concourse-api.md §1.6, Concourse's atc/api/buildserver): one-off build creation (`fly execute`),
// reading builds and their plan, artifacts and resources, comments, and aborting. The event stream is in
// ./events.ts.
import {
  findBuild,
  findPipelineBuild,
  findPipelineBuilds,
  findTeamByName,
  InvalidPageError,
  listBuildArtifacts,
  listBuildResources,
  listBuilds,
  setBuildComment,
  type BuildPage,
  type BuildRecord,
  type BuildsPage,
} from '@jetbridge/db';
import { parsePlan, PlanError, toPublicPlan, type Plan } from '@jetbridge/plan';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { useBuildTracker } from '../builds/build-tracker-plugin.js';
import { pipelineOneOffRun } from '../builds/build-resumption.js';
import { oneOffBuildVarsResolver } from '../creds/build-vars-resolver.js';
import { noCredentials } from '../creds/index.js';
import { TrackerClosingError } from '../builds/build-tracker.js';
import { HttpError } from '../http-error.js';
import { presentWorkerArtifact } from './artifacts.js';
import { presentPipelineBuild } from './pipeline-json.js';
import { requirePipeline } from './pipelines.js';

/** `atc.Build` as the API presents it (§2.4): `omitempty` fields left out when empty, times in Unix seconds. */
export function presentBuild(build: BuildRecord, options: { showComment: boolean }): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: build.id,
    team_name: build.teamName,
    name: build.name,
    status: build.status,
    api_url: `/api/v1/builds/${build.id}`,
  };
  if (options.showComment && build.comment) json['comment'] = build.comment;
  if (build.pipelineId) json['pipeline_id'] = build.pipelineId;
  if (build.startTime) json['start_time'] = unixSeconds(build.startTime);
  if (build.endTime) json['end_time'] = unixSeconds(build.endTime);
  if (build.reapTime) json['reap_time'] = unixSeconds(build.reapTime);
  if (build.rerunOf) {
    if (build.rerunNumber) json['rerun_number'] = build.rerunNumber;
    json['rerun_of'] = { id: build.rerunOf };
  }
  if (build.createdBy !== null) json['created_by'] = build.createdBy;
  return json;
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * `limit`/`from`/`to`/`timestamps` as Concourse reads them (§7.1): numbers parsed like Go's `strconv.Atoi`
 * with errors ignored (so garbage reads as 0), a missing or non-positive limit meaning 100.
 */
export function parseBuildPage(query: Record<string, unknown>): BuildPage {
  // Go's Atoi: digits only; a number past 64 bits (or here past a safe integer) is no number at all.
  const atoi = (value: unknown): number => {
    const text = typeof value === 'string' ? value : '';
    const n = /^[+-]?\d+$/.test(text) ? Number(text) : 0;
    return Number.isSafeInteger(n) ? n : 0;
  };
  const present = (key: string) => typeof query[key] === 'string' && query[key] !== '';
  const limit = atoi(query['limit']);
  return {
    limit: limit > 0 ? limit : 100,
    ...(present('from') ? { from: atoi(query['from']) } : {}),
    ...(present('to') ? { to: atoi(query['to']) } : {}),
    ...(present('timestamps') ? { timestamps: true } : {}),
  };
}

/** `Link` headers to the neighbouring pages, absolute from the external URL (fly follows them). */
export function paginationLinks(baseUrl: string, page: BuildsPage, limit: number): string[] {
  const links: string[] = [];
  if (page.olderTo !== undefined) links.push(`<${baseUrl}?to=${page.olderTo}&limit=${limit}>; rel="next"`);
  if (page.newerFrom !== undefined)
    links.push(`<${baseUrl}?from=${page.newerFrom}&limit=${limit}>; rel="previous"`);
  return links;
}

/** The build the access check found, loaded in full; 404 if it disappeared since. */
async function requestedBuild(request: FastifyRequest, ctx: AppContext): Promise<BuildRecord> {
  const id = request.authorizedBuild?.id ?? Number((request.params as { build_id?: string }).build_id);
  const build = Number.isSafeInteger(id) ? await findBuild(ctx.db, id) : undefined;
  if (build === undefined) throw HttpError.notFound();
  return build;
}

async function sendBuildPage(
  reply: FastifyReply,
  ctx: AppContext,
  path: string,
  teamNames: readonly string[] | undefined,
  query: Record<string, unknown>,
): Promise<Array<Record<string, unknown>>> {
  const page = parseBuildPage(query);
  let result: BuildsPage;
  try {
    result = await listBuilds(ctx.db, { teamNames }, page);
  } catch (err) {
    // A reversed range (from > to) is the caller's mistake: Concourse answers 500, bad input is never a 500 here.
    if (err instanceof InvalidPageError) throw HttpError.badRequest(err.message);
    throw err;
  }
  if (!page.timestamps) {
    const links = paginationLinks(`${ctx.config.externalUrl}${path}`, result, page.limit);
    if (links.length > 0) reply.header('link', links);
  }
  // Comments never appear in lists (present.Build is given no accessor there). Job and check builds carry
  // their pipeline, job and resource names.
  const detailed = await findPipelineBuilds(
    ctx.db,
    result.builds.map((build) => build.id),
  );
  return detailed.map((build) => presentPipelineBuild(build, { showComment: false }));
}

const buildIdParams = {
  type: 'object',
  properties: { build_id: { type: 'string' } },
  required: ['build_id'],
} as const;

export async function buildRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tracker = await useBuildTracker(app, ctx);

  app.post<{ Params: { team_name: string } }>(
    '/api/v1/teams/:team_name/builds',
    { config: { access: { kind: 'team', role: 'member' } }, errorHandler: createBuildErrorHandler },
    async (request, reply) => {
      const plan = requestPlan(request);
      let build: BuildRecord | undefined;
      try {
        build = await tracker.createOneOffBuild({
          teamName: request.params.team_name,
          plan,
          createdBy: request.accessor.displayUserId || null,
          // No pipeline: the cluster's credential manager in the team's context (`<team>/<var>` only).
          vars: (teamName) => oneOffBuildVarsResolver(ctx.credentials ?? noCredentials, teamName),
        });
      } catch (err) {
        if (err instanceof TrackerClosingError) throw new HttpError(503, err.message, '');
        throw err;
      }
      if (build === undefined) throw HttpError.notFound();
      request.log.info(
        { buildId: build.id, buildName: build.name, team: build.teamName },
        'created one-off build',
      );
      reply.code(201);
      return presentBuild(build, { showComment: false });
    },
  );

  // `fly execute -j`: a one-off build of the pipeline (Concourse's CreatePipelineBuild), its get steps run
  // with the pipeline's resource types and vars. Archived pipelines are not refused, as in Concourse.
  app.post(
    '/api/v1/teams/:team_name/pipelines/:pipeline_name/builds',
    { config: { access: { kind: 'team', role: 'member' } }, errorHandler: createBuildErrorHandler },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const plan = requestPlan(request);
      const run = await pipelineOneOffRun(ctx, pipeline);
      let build: BuildRecord | undefined;
      try {
        build = await tracker.createOneOffBuild({
          teamName: pipeline.teamName,
          plan,
          createdBy: request.accessor.displayUserId || null,
          pipeline: { id: pipeline.id, run },
        });
      } catch (err) {
        if (err instanceof TrackerClosingError) throw new HttpError(503, err.message, '');
        throw err;
      }
      if (build === undefined) throw HttpError.notFound();
      request.log.info(
        { buildId: build.id, buildName: build.name, pipelineId: pipeline.id },
        'created pipeline one-off build',
      );
      const presented = await findPipelineBuild(ctx.db, build.id);
      reply.code(201);
      return presented
        ? presentPipelineBuild(presented, { showComment: false })
        : presentBuild(build, { showComment: false });
    },
  );

  app.get('/api/v1/builds', { config: { access: { kind: 'open' } } }, async (request, reply) => {
    const accessor = request.accessor;
    // Admins see every build; others the builds of their teams (and, once pipelines exist, public ones).
    const teamNames = accessor.isAdmin ? undefined : accessor.visibleTeamNames();
    return sendBuildPage(reply, ctx, '/api/v1/builds', teamNames, request.query as Record<string, unknown>);
  });

  app.get<{ Params: { team_name: string } }>(
    '/api/v1/teams/:team_name/builds',
    { config: { access: { kind: 'team', role: 'viewer' } } },
    async (request, reply) => {
      const team = await findTeamByName(ctx.db, request.params.team_name);
      if (team === undefined) throw HttpError.notFound();
      const path = `/api/v1/teams/${encodeURIComponent(team.name)}/builds`;
      return sendBuildPage(reply, ctx, path, [team.name], request.query as Record<string, unknown>);
    },
  );

  app.get(
    '/api/v1/builds/:build_id',
    { config: { access: { kind: 'build-read' } }, schema: { params: buildIdParams } },
    async (request) => {
      const build = await requestedBuild(request, ctx);
      const detailed = await findPipelineBuild(ctx.db, build.id);
      const showComment = request.accessor.hasTeamRole(build.teamName, 'viewer');
      return detailed
        ? presentPipelineBuild(detailed, { showComment })
        : presentBuild(build, { showComment });
    },
  );

  app.get(
    '/api/v1/builds/:build_id/plan',
    { config: { access: { kind: 'build-read' } }, schema: { params: buildIdParams } },
    async (request) => {
      const build = await requestedBuild(request, ctx);
      if (build.plan === null) throw HttpError.notFound();
      return { schema: build.schema, plan: toPublicPlan(parsePlan(build.plan)) };
    },
  );

  app.get(
    '/api/v1/builds/:build_id/artifacts',
    { config: { access: { kind: 'build-read' } }, schema: { params: buildIdParams } },
    async (request) => {
      const build = await requestedBuild(request, ctx);
      const artifacts = await listBuildArtifacts(ctx.db, build.id);
      return artifacts.map(presentWorkerArtifact);
    },
  );

  // One-off builds take no resource versions in and put none out.
  app.get(
    '/api/v1/builds/:build_id/resources',
    { config: { access: { kind: 'build-read' } }, schema: { params: buildIdParams } },
    async (request) => {
      const build = await requestedBuild(request, ctx);
      // `atc.BuildInput`/`atc.PublicBuildOutput`: what the scheduler chose and what puts produced.
      const { inputs, outputs } = await listBuildResources(ctx.db, build.id);
      return {
        inputs: inputs.map((input) => ({
          name: input.name,
          version: input.version,
          pipeline_id: input.pipelineId,
          first_occurrence: input.firstOccurrence,
        })),
        outputs: outputs.map((output) => ({ name: output.name, version: output.version })),
      };
    },
  );

  app.put(
    '/api/v1/builds/:build_id/comment',
    {
      config: { access: { kind: 'build-write', role: 'pipeline-operator' } },
      schema: { params: buildIdParams },
    },
    async (request, reply) => {
      const build = await requestedBuild(request, ctx);
      const body = request.body as { comment?: unknown } | null | undefined;
      if (
        typeof body !== 'object' ||
        body === null ||
        (body.comment !== undefined && typeof body.comment !== 'string')
      ) {
        throw HttpError.badRequest();
      }
      await setBuildComment(ctx.db, build.id, typeof body.comment === 'string' ? body.comment : '');
      reply.code(200).type('application/json');
      return '';
    },
  );

  app.put<{ Querystring: Record<string, string | undefined> }>(
    '/api/v1/builds/:build_id/abort',
    {
      config: { access: { kind: 'build-write', role: 'pipeline-operator' } },
      schema: { params: buildIdParams },
    },
    async (request, reply) => {
      const build = await requestedBuild(request, ctx);
      // `?force=` is a bare key: its presence counts, not its value.
      const force = Object.hasOwn(request.query, 'force');
      await tracker.abort(build.id, { force });
      request.log.info({ buildId: build.id, force }, 'build abort requested');
      reply.code(204);
      return reply.send();
    },
  );
}

/** A body that is not JSON is as undecodable as a bad plan: 400 with an empty body, as the ATC answers. */
function createBuildErrorHandler(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  const status = (error as { statusCode?: number }).statusCode;
  if (error instanceof HttpError) {
    reply.code(error.statusCode).type('text/plain').send(error.body);
  } else if (status !== undefined && status >= 400 && status < 500) {
    reply.code(status).type('text/plain').send('');
  } else {
    reply.log.error({ err: error }, 'failed to create build');
    reply.code(500).type('text/plain').send('');
  }
}

function requestPlan(request: FastifyRequest): Plan {
  try {
    return parsePlan(request.body);
  } catch (err) {
    if (err instanceof PlanError) {
      request.log.info({ err: err.message, path: err.path }, 'undecodable build plan');
      throw HttpError.badRequest();
    }
    throw err;
  }
}
