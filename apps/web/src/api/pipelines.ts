// Pipelines and their config (concourse-api.md §1.4, §2.3, §2.16, §6.4–6.6, §6.16; Concourse's
// atc/api/pipelineserver and atc/api/configserver): listing, getting, setting the config as `fly
// set-pipeline` does, pausing, archiving, exposing, renaming, ordering, destroying, builds, badge.
import {
  archivePipeline,
  ConfigVersionMismatchError,
  deletePipeline,
  findFinishedAndNextBuilds,
  findPipelineConfig,
  findTeamByName,
  InvalidPageError,
  listJobs,
  listPipelineBuilds,
  listTeamPipelines,
  listVisiblePipelines,
  loadVersionsDebugDump,
  NameSwapError,
  orderPipelines,
  orderPipelinesWithinGroup,
  pausePipeline,
  PipelineNotFoundError,
  renamePipeline,
  savePipeline,
  setPipelinePublic,
  SetByNewerBuildError,
  unpausePipeline,
  type BuildStatus,
  type Json,
  type PipelineBuildsPage,
  type PipelineRecord,
  type PipelineWithoutConfig,
  type TeamRecord,
} from '@jetbridge/db';
import {
  parsePipelineConfig,
  pipelineRefToString,
  toConfigJson,
  validateIdentifier,
  validatePipelineConfig,
  varReferences,
  visitBaseSteps,
  jobStepConfig,
  type ConfigWarning,
  type PipelineConfig,
} from '@jetbridge/pipeline-config';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import {
  findRequestedPipeline,
  pathParam,
  requestQuery,
  requestedInstanceVars,
} from '../auth/requested-pipeline.js';
import { noCredentials, undefinedCredentialVars } from '../creds/index.js';
import { HttpError } from '../http-error.js';
import { sendBadge, worstStatus } from './badge.js';
import { parseBuildPage } from './builds.js';
import { pipelineConfigRows } from './pipeline-config-rows.js';
import { pageLinks, pipelinePath, presentPipeline, presentPipelineBuild } from './pipeline-json.js';
import { pipelineSchedulingOf } from './pipeline-scheduling.js';

/** The header carrying a pipeline's config version (atc.ConfigVersionHeader). */
export const CONFIG_VERSION_HEADER = 'x-concourse-config-version';

/** The content types `PUT P/config` accepts, compared exactly as Concourse does (no parameters). */
const CONFIG_CONTENT_TYPES = ['application/json', 'application/x-yaml'];

/**
 * The pipeline a team-scoped route names (routes whose access rule is `team`, checked before the lookup):
 * bad instance vars 400 (empty body, or `{"errors":[…]}` with `jsonErrors`), missing team or pipeline 404.
 */
export async function requirePipeline(
  request: FastifyRequest,
  ctx: AppContext,
  options: { jsonErrors?: boolean } = {},
): Promise<PipelineWithoutConfig> {
  if (request.authorizedPipeline) return request.authorizedPipeline;
  const found = await findRequestedPipeline(request, ctx.db);
  if (found.found) return found.pipeline;
  if (found.reason === 'bad-instance-vars') throw badInstanceVars(found.message, options.jsonErrors === true);
  throw HttpError.notFound();
}

function badInstanceVars(message: string, json: boolean): HttpError {
  const text = `instance vars are malformed: ${message}`;
  return json ? new HttpError(400, text, { errors: [text] }) : new HttpError(400, text, '');
}

async function requireTeam(ctx: AppContext, request: FastifyRequest): Promise<TeamRecord> {
  const team = await findTeamByName(ctx.db, pathParam(request, 'team_name'));
  if (!team) throw HttpError.notFound();
  return team;
}

function configErrors(errors: string[]): HttpError {
  return new HttpError(400, errors.join('\n'), { errors });
}

/** Go's `fmt.Sscanf(header, "%d", &version)`: leading spaces, an optional sign, digits; the rest ignored. */
function parseConfigVersion(header: string): number | undefined {
  const match = /^[ \t\r\n]*([+-]?\d+)/.exec(header);
  return match ? Number(match[1]) : undefined;
}

/**
 * `?check_creds`: every `((var))` in resource and resource type sources, webhook tokens, task params/vars and
 * inline task configs must resolve against the cluster's credential manager (not the pipeline's
 * var_sources). Messages as Concourse's (vars.UndefinedVarsError in a go-multierror).
 */
async function credentialErrors(
  config: PipelineConfig,
  undefinedVars: (names: string[]) => Promise<string[]>,
): Promise<string[]> {
  const values: unknown[] = [];
  for (const resourceType of config.resource_types ?? []) values.push(resourceType.source);
  for (const resource of config.resources ?? []) {
    values.push(resource.source);
    values.push(resource.webhook_token ?? '');
  }
  for (const job of config.jobs ?? []) {
    visitBaseSteps(jobStepConfig(job), {
      onTask(step) {
        values.push(step.params);
        values.push(step.vars);
        if (step.config !== undefined) values.push(step.config);
      },
    });
  }
  const errors: string[] = [];
  for (const value of values) {
    const names = await undefinedVars([...new Set(varReferences(value))].sort());
    if (names.length > 0) errors.push(`undefined vars: ${names.join(', ')}`);
  }
  return errors;
}

function multiErrorText(errors: string[]): string {
  if (errors.length === 1) return `1 error occurred:\n\t* ${errors[0]}\n\n`;
  return `${errors.length} errors occurred:\n\t${errors.map((e) => `* ${e}`).join('\n\t')}\n\n`;
}

/** Names of `order-pipelines` bodies, or 400. */
function pipelineNames(body: unknown): string[] {
  if (!Array.isArray(body) || !body.every((name) => typeof name === 'string')) throw HttpError.badRequest();
  return body as string[];
}

export async function pipelineRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const scheduling = pipelineSchedulingOf(ctx);

  app.get('/api/v1/pipelines', { config: { access: { kind: 'open' } } }, async (request) => {
    const accessor = request.accessor;
    const pipelines = await listVisiblePipelines(
      ctx.db,
      accessor.isAdmin ? undefined : accessor.visibleTeamNames(),
    );
    return pipelines.map(presentPipeline);
  });

  app.get('/api/v1/teams/:team_name/pipelines', { config: { access: { kind: 'open' } } }, async (request) => {
    const team = await requireTeam(ctx, request);
    const authorized = request.accessor.hasTeamRole(pathParam(request, 'team_name'), 'viewer');
    const pipelines = await listTeamPipelines(ctx.db, team.id, { publicOnly: !authorized });
    return pipelines.map(presentPipeline);
  });

  app.put(
    '/api/v1/teams/:team_name/pipelines/ordering',
    { config: { access: { kind: 'team', role: 'member' } } },
    async (request, reply) => {
      const team = await requireTeam(ctx, request);
      try {
        await orderPipelines(ctx.db, team.id, pipelineNames(request.body));
      } catch (err) {
        if (err instanceof PipelineNotFoundError) throw new HttpError(400, err.message, `${err.message}\n`);
        throw err;
      }
      return reply.code(200).send();
    },
  );

  const P = '/api/v1/teams/:team_name/pipelines/:pipeline_name';

  app.get(P, { config: { access: { kind: 'pipeline' } } }, async (request) =>
    presentPipeline(await requirePipeline(request, ctx)),
  );

  app.delete(P, { config: { access: { kind: 'team', role: 'member' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    await deletePipeline(ctx.db, pipeline.id);
    request.log.info({ pipelineId: pipeline.id, pipeline: pipeline.name }, 'pipeline destroyed');
    return reply.code(204).send();
  });

  app.get(`${P}/config`, { config: { access: { kind: 'team', role: 'viewer' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx, { jsonErrors: true });
    // The lookup leaves the config out; read it (with its version, in one row) only here.
    const stored = await findPipelineConfig(ctx.db, pipeline.id);
    if (!stored || stored.archived || stored.config === null) throw HttpError.notFound();
    reply.header(CONFIG_VERSION_HEADER, String(stored.configVersion));
    return { config: canonicalConfigJson(stored.config) };
  });

  // The config arrives as raw YAML or JSON text: its own parsers, in a context of its own.
  await app.register(async (configApp) => {
    configApp.removeAllContentTypeParsers();
    configApp.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    configApp.put(
      `${P}/config`,
      { config: { access: { kind: 'team', role: 'member' } } },
      async (request, reply) => {
        const saved = await saveConfig(request, ctx);
        scheduling.scheduleRequested(`pipeline ${saved.pipeline.id} config saved`);
        scheduling.resourceScanRequested(`pipeline ${saved.pipeline.id} config saved`);
        reply.code(saved.created ? 201 : 200).type('application/json');
        return saved.warnings.length > 0 ? { warnings: saved.warnings } : {};
      },
    );
  });

  app.put(
    `${P}/pause`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      await pausePipeline(ctx.db, pipeline.id, request.accessor.displayUserId);
      return reply.code(200).send();
    },
  );

  app.put(
    `${P}/unpause`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      await unpausePipeline(ctx.db, pipeline.id);
      scheduling.scheduleRequested(`pipeline ${pipeline.id} unpaused`);
      scheduling.resourceScanRequested(`pipeline ${pipeline.id} unpaused`);
      return reply.code(200).send();
    },
  );

  app.put(
    `${P}/archive`,
    { config: { access: { kind: 'team', role: 'member' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      await archivePipeline(ctx.db, pipeline.id);
      request.log.info({ pipelineId: pipeline.id }, 'pipeline archived');
      return reply.code(200).send();
    },
  );

  for (const [action, isPublic] of [
    ['expose', true],
    ['hide', false],
  ] as const) {
    app.put(
      `${P}/${action}`,
      { config: { access: { kind: 'team', role: 'member' } } },
      async (request, reply) => {
        const pipeline = await requirePipeline(request, ctx);
        await setPipelinePublic(ctx.db, pipeline.id, isPublic);
        return reply.code(200).send();
      },
    );
  }

  app.put(`${P}/rename`, { config: { access: { kind: 'team', role: 'member' } } }, async (request, reply) => {
    const team = await requireTeam(ctx, request);
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw HttpError.badRequest();
    const rawName = (body as { name?: unknown }).name;
    if (rawName !== undefined && typeof rawName !== 'string') throw HttpError.badRequest();
    const newName = rawName ?? '';
    const check = validateIdentifier(newName, 'pipeline');
    if (check.error !== undefined) throw configErrors([check.error]);
    if (newName.includes('\0')) throw configErrors(['pipeline: name contains a NUL character']);
    const oldName = pathParam(request, 'pipeline_name');
    const result = await renamePipeline(ctx.db, team.id, oldName, newName);
    if (result === 'not-found') throw HttpError.notFound();
    if (result === 'name-taken') {
      const message = `pipeline: a pipeline named '${newName}' already exists`;
      throw new HttpError(409, message, { errors: [message] });
    }
    request.log.info({ team: team.name, from: oldName, to: newName }, 'pipeline renamed');
    reply.type('application/json');
    return check.warning ? { warnings: [check.warning] } : {};
  });

  app.put(
    `${P}/ordering`,
    { config: { access: { kind: 'team', role: 'member' } } },
    async (request, reply) => {
      const team = await requireTeam(ctx, request);
      const body = request.body;
      if (
        !Array.isArray(body) ||
        !body.every((vars) => vars === null || (typeof vars === 'object' && !Array.isArray(vars)))
      ) {
        throw HttpError.badRequest();
      }
      const name = pathParam(request, 'pipeline_name');
      try {
        await orderPipelinesWithinGroup(
          ctx.db,
          team.id,
          name,
          body as Array<Record<string, Json> | null>,
          (vars) => pipelineRefToString(name, vars),
        );
      } catch (err) {
        if (err instanceof PipelineNotFoundError) throw new HttpError(400, err.message, `${err.message}\n`);
        throw err;
      }
      return reply.code(200).send();
    },
  );

  app.get(`${P}/versions-db`, { config: { access: { kind: 'team', role: 'viewer' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    return loadVersionsDebugDump(ctx.db, pipeline.id);
  });

  app.get(`${P}/builds`, { config: { access: { kind: 'pipeline' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    const page = parseBuildPage(Object.fromEntries(requestQuery(request)));
    let result: PipelineBuildsPage;
    try {
      result = await listPipelineBuilds(ctx.db, pipeline.id, page);
    } catch (err) {
      // Concourse answers a failed listing of a pipeline's builds with 404.
      if (err instanceof InvalidPageError) throw HttpError.notFound();
      throw err;
    }
    const links = pageLinks(
      `${ctx.config.externalUrl}${pipelinePath(pipeline)}/builds`,
      result,
      page.limit,
      pipeline.instanceVars,
    );
    if (links.length > 0) reply.header('link', links);
    return result.builds.map((build) => presentPipelineBuild(build, { showComment: false }));
  });

  app.get(`${P}/badge`, { config: { access: { kind: 'pipeline' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    const jobs = await listJobs(ctx.db, pipeline.id);
    const builds = await findFinishedAndNextBuilds(
      ctx.db,
      jobs.map((job) => job.id),
    );
    const statuses: BuildStatus[] = [];
    for (const job of jobs) {
      const finished = builds.get(job.id)?.finished;
      if (finished) statuses.push(finished.status);
    }
    return sendBadge(reply, worstStatus(statuses), requestQuery(request).get('title') ?? undefined);
  });
}

/**
 * The stored config as Go would encode it again: decoded and re-encoded, since jsonb keeps no key order
 * (Concourse likewise decodes the stored config and encodes it for `GET P/config`).
 */
function canonicalConfigJson(stored: Record<string, Json>): Record<string, unknown> {
  const parsed = parsePipelineConfig(JSON.stringify(stored), 'application/json');
  return parsed.config ? toConfigJson(parsed.config) : stored;
}

interface SavedConfig {
  pipeline: PipelineRecord;
  created: boolean;
  warnings: ConfigWarning[];
}

/** `PUT P/config`, in Concourse's order of checks (atc/api/configserver/save.go). */
async function saveConfig(request: FastifyRequest, ctx: AppContext): Promise<SavedConfig> {
  const query = requestQuery(request);
  const checkCredentials = query.has('check_creds');

  let fromVersion = 0;
  const versionHeader = request.headers[CONFIG_VERSION_HEADER];
  const versionText = Array.isArray(versionHeader) ? (versionHeader[0] ?? '') : (versionHeader ?? '');
  if (versionText !== '') {
    const parsed = parseConfigVersion(versionText);
    if (parsed === undefined) throw configErrors(['config version is malformed: expected integer']);
    fromVersion = parsed;
  }

  const contentType = request.headers['content-type'] ?? '';
  if (!CONFIG_CONTENT_TYPES.includes(contentType)) throw new HttpError(415, 'unsupported media type', '');
  const text = typeof request.body === 'string' ? request.body : '';

  const parsed = parsePipelineConfig(text, contentType);
  if (parsed.errors) throw configErrors(parsed.errors);
  const config = parsed.config;
  const { errors, warnings } = validatePipelineConfig(config);
  if (errors.length > 0) throw configErrors(errors);

  const pipelineName = pathParam(request, 'pipeline_name');
  const teamName = pathParam(request, 'team_name');
  for (const [name, context] of [
    [pipelineName, 'pipeline'],
    [teamName, 'team'],
  ] as const) {
    const check = validateIdentifier(name, context);
    if (check.error !== undefined) throw configErrors([check.error]);
    if (check.warning) warnings.push(check.warning);
  }
  if (pipelineName.includes('\0')) throw configErrors(['pipeline: name contains a NUL character']);

  const vars = requestedInstanceVars(request);
  if (!vars.ok) throw badInstanceVars(vars.message, true);

  if (checkCredentials) {
    const credErrors = await credentialErrors(config, (names) =>
      undefinedCredentialVars(ctx.credentials ?? noCredentials, { teamName, pipelineName }, names),
    );
    if (credErrors.length > 0)
      throw configErrors([`credential validation failed\n\n${multiErrorText(credErrors)}`]);
  }

  const team = await findTeamByName(ctx.db, teamName);
  if (!team) throw HttpError.notFound();

  try {
    const { pipeline, created } = await savePipeline(ctx.db, {
      teamId: team.id,
      name: pipelineName,
      instanceVars: vars.instanceVars,
      fromVersion,
      initiallyPaused: true,
      config: pipelineConfigRows(config),
    });
    request.log.info(
      {
        pipelineId: pipeline.id,
        pipeline: pipeline.name,
        team: team.name,
        created,
        version: pipeline.configVersion,
      },
      'pipeline config saved',
    );
    return { pipeline, created, warnings };
  } catch (err) {
    if (
      err instanceof ConfigVersionMismatchError ||
      err instanceof NameSwapError ||
      err instanceof SetByNewerBuildError
    ) {
      const message = `failed to save config: ${err.message}`;
      request.log.info({ err: err.message }, 'pipeline config not saved');
      // Concourse answers 500; a conflict here (fly shows either as an unexpected response with this text).
      throw new HttpError(409, message, message);
    }
    throw err;
  }
}
