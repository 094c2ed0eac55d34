import { findBuildTeam, type Database, type Kysely } from '@jetbridge/db';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../http-error.js';
import type { AccessRule } from './access-rule.js';
import type { Accessor } from './accessor.js';

/** The build a build-read/build-write route is about, as the access check found it. */
export interface AuthorizedBuild {
  id: number;
  teamId: number;
  teamName: string;
  pipelineId: number | null;
  jobId: number | null;
}

/**
 * Apply a route's access rule to a request, throwing the HttpError Concourse would answer with
 * (`atc/wrappa/api_auth_wrappa.go`, `atc/api/auth/*`): 401 `not authorized` when a login is needed, 403
 * `forbidden` when the caller lacks the role. For build rules the build is looked up first (bad id 400,
 * missing 404) and returned, so handlers need not look it up again.
 */
export async function enforceAccess(
  rule: AccessRule,
  accessor: Accessor,
  request: FastifyRequest,
  db: Kysely<Database>,
): Promise<AuthorizedBuild | undefined> {
  switch (rule.kind) {
    case 'public':
      return undefined;
    case 'open':
      // CheckAuthenticationIfProvided: anonymous is fine, a bad token is not.
      if (accessor.hasToken && !accessor.isAuthenticated) throw HttpError.unauthorized();
      return undefined;
    case 'authenticated':
      requireAuthenticated(accessor);
      return undefined;
    case 'any-team':
      requireAuthenticated(accessor);
      if (!accessor.isAdmin && Object.keys(accessor.teamRoles).length === 0) throw HttpError.forbidden();
      return undefined;
    case 'team': {
      requireAuthenticated(accessor);
      // A team that does not exist is one the caller has no role on: 403, except for admins (the handler
      // then answers 404, or creates it for set-team), as CheckAuthorizationHandler does.
      if (!accessor.hasTeamRole(pathParam(request, 'team_name'), rule.role)) throw HttpError.forbidden();
      return undefined;
    }
    case 'admin':
      requireAuthenticated(accessor);
      if (!accessor.isAdmin) throw HttpError.forbidden();
      return undefined;
    case 'build-read': {
      // CheckBuildReadAccessHandler: the build is looked up before the caller is judged.
      const build = await findBuild(request, db);
      if (accessor.hasTeamRole(build.teamName, 'viewer')) return build;
      if (await isBuildPublic(build)) return build;
      throw accessor.isAuthenticated ? HttpError.forbidden() : HttpError.unauthorized();
    }
    case 'build-write': {
      requireAuthenticated(accessor);
      const build = await findBuild(request, db);
      if (!accessor.hasTeamRole(build.teamName, rule.role)) throw HttpError.forbidden();
      return build;
    }
  }
}

function requireAuthenticated(accessor: Accessor): void {
  if (!accessor.isAuthenticated) throw HttpError.unauthorized();
}

function pathParam(request: FastifyRequest, name: string): string {
  const params = request.params as Record<string, unknown> | undefined;
  const value = params?.[name];
  return typeof value === 'string' ? value : '';
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
 * Whether anyone may read the build because its pipeline is public (and, for some routes, its job too).
 * JetBridge has no pipelines yet, so only one-off builds exist and those are never public; when pipelines
 * land, look up `build.pipelineId`'s `public` flag here (and the job's for BUILD-R routes).
 */
async function isBuildPublic(build: AuthorizedBuild): Promise<boolean> {
  if (build.pipelineId === null) return false;
  return false;
}
