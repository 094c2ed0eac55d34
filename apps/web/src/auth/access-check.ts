import {
  findBuildTeam,
  findPipelinePublicity,
  type Database,
  type Kysely,
  type PipelineWithoutConfig,
} from '@jetbridge/db';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../http-error.js';
import type { AccessRule } from './access-rule.js';
import type { Accessor } from './accessor.js';
import { findRequestedPipeline, pathParam } from './requested-pipeline.js';

/** The build a build-read/build-write route is about, as the access check found it. */
export interface AuthorizedBuild {
  id: number;
  teamId: number;
  teamName: string;
  pipelineId: number | null;
  jobId: number | null;
}

/** What an access check found on the way, handed to the handler (null when the rule names no object). */
export interface AccessGrant {
  build: AuthorizedBuild | null;
  /** On `pipeline` and `team-pipeline` routes: the pipeline the path and instance vars name. */
  pipeline: PipelineWithoutConfig | null;
}

const NOTHING: AccessGrant = { build: null, pipeline: null };

/**
 * Apply a route's access rule to a request, throwing the HttpError Concourse would answer with
 * (`atc/wrappa/api_auth_wrappa.go`, `atc/api/auth/*`): 401 `not authorized` when a login is needed, 403
 * `forbidden` when the caller lacks the role. For build and pipeline rules the object is looked up first
 * (bad id 400, missing 404) and returned, so handlers need not look it up again.
 */
export async function enforceAccess(
  rule: AccessRule,
  accessor: Accessor,
  request: FastifyRequest,
  db: Kysely<Database>,
): Promise<AccessGrant> {
  switch (rule.kind) {
    case 'public':
      return NOTHING;
    case 'open':
      // CheckAuthenticationIfProvided: anonymous is fine, a bad token is not.
      if (accessor.hasToken && !accessor.isAuthenticated) throw HttpError.unauthorized();
      return NOTHING;
    case 'authenticated':
      requireAuthenticated(accessor);
      return NOTHING;
    case 'any-team':
      requireAuthenticated(accessor);
      if (!accessor.isAdmin && Object.keys(accessor.teamRoles).length === 0) throw HttpError.forbidden();
      return NOTHING;
    case 'team': {
      requireTeamRole(accessor, request, rule.role);
      return NOTHING;
    }
    case 'admin':
      requireAuthenticated(accessor);
      if (!accessor.isAdmin) throw HttpError.forbidden();
      return NOTHING;
    case 'build-read': {
      // CheckBuildReadAccessHandler: the build is looked up before the caller is judged.
      const build = await findBuild(request, db);
      if (accessor.hasTeamRole(build.teamName, 'viewer')) return { build, pipeline: null };
      if (await isBuildPublic(db, build, rule.allowPrivateJob === true)) return { build, pipeline: null };
      throw accessor.isAuthenticated ? HttpError.forbidden() : HttpError.unauthorized();
    }
    case 'build-write': {
      requireAuthenticated(accessor);
      const build = await findBuild(request, db);
      if (!accessor.hasTeamRole(build.teamName, rule.role)) throw HttpError.forbidden();
      return { build, pipeline: null };
    }
    case 'pipeline': {
      // CheckPipelineAccessHandler: pipeline first, then "viewer of the team in the path, or public".
      const pipeline = await findPipelineOrReject(request, db);
      if (accessor.hasTeamRole(pathParam(request, 'team_name'), 'viewer') || pipeline.public) {
        return { build: null, pipeline };
      }
      throw accessor.isAuthenticated ? HttpError.forbidden() : HttpError.unauthorized();
    }
    case 'team-pipeline': {
      // RejectArchivedHandler wraps the auth check, so its 404/409 come first.
      const pipeline = await findPipelineOrReject(request, db);
      if (pipeline.archived) throw new HttpError(409, ARCHIVED_MESSAGE, `${ARCHIVED_MESSAGE}\n`);
      requireTeamRole(accessor, request, rule.role);
      return { build: null, pipeline };
    }
  }
}

/** The text Concourse answers (via Go's http.Error, hence the newline) to actions on an archived pipeline. */
export const ARCHIVED_MESSAGE = 'action not allowed for an archived pipeline';

function requireAuthenticated(accessor: Accessor): void {
  if (!accessor.isAuthenticated) throw HttpError.unauthorized();
}

function requireTeamRole(
  accessor: Accessor,
  request: FastifyRequest,
  role: Parameters<Accessor['hasTeamRole']>[1],
): void {
  requireAuthenticated(accessor);
  // A team that does not exist is one the caller has no role on: 403, except for admins (the handler
  // then answers 404, or creates it for set-team), as CheckAuthorizationHandler does.
  if (!accessor.hasTeamRole(pathParam(request, 'team_name'), role)) throw HttpError.forbidden();
}

async function findPipelineOrReject(
  request: FastifyRequest,
  db: Kysely<Database>,
): Promise<PipelineWithoutConfig> {
  const found = await findRequestedPipeline(request, db);
  if (found.found) return found.pipeline;
  if (found.reason === 'bad-instance-vars') throw new HttpError(400, found.message, '');
  throw HttpError.notFound();
}

const MAX_DB_INTEGER = 2 ** 31 - 1;

async function findBuild(request: FastifyRequest, db: Kysely<Database>): Promise<AuthorizedBuild> {
  const text = pathParam(request, 'build_id');
  if (!/^\d{1,10}$/.test(text)) throw HttpError.badRequest();
  const id = Number(text);
  const build = id <= MAX_DB_INTEGER ? await findBuildTeam(db, id) : undefined;
  if (!build) throw HttpError.notFound();
  return {
    id: build.buildId,
    teamId: build.teamId,
    teamName: build.teamName,
    pipelineId: build.pipelineId,
    jobId: build.jobId,
  };
}

/**
 * Whether anyone may read the build because its pipeline is public and, unless `allowPrivateJob`, its job is
 * public too (a check build, having no job, then needs team access). One-off builds outside pipelines are
 * never public. A pipeline gone meanwhile is a 404, as Concourse's `errDisappeared`.
 */
async function isBuildPublic(
  db: Kysely<Database>,
  build: AuthorizedBuild,
  allowPrivateJob: boolean,
): Promise<boolean> {
  if (build.pipelineId === null) return false;
  const publicity = await findPipelinePublicity(db, build.pipelineId, build.jobId);
  if (!publicity) throw HttpError.notFound();
  if (!publicity.pipelinePublic) return false;
  if (allowPrivateJob) return true;
  return build.jobId !== null && publicity.jobPublic;
}
