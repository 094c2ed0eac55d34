import {
  createTeam,
  deleteTeam,
  findTeamByName,
  listTeams,
  renameTeam,
  updateTeamAuth,
  type TeamAuth,
  type TeamRecord,
} from '@jetbridge/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { TEAM_ROLES, type TeamRole } from '../auth/access-rule.js';
import { HttpError } from '../http-error.js';
import { validateIdentifier, type ConfigWarning } from '../validation/identifier.js';

/** A team as the API presents it (`atc.Team`; `auth` omitted when empty). */
export interface TeamJson {
  id: number;
  name: string;
  auth?: TeamAuth;
}

export function presentTeam(team: TeamRecord): TeamJson {
  return Object.keys(team.auth).length > 0
    ? { id: team.id, name: team.name, auth: team.auth }
    : { id: team.id, name: team.name };
}

function teamNameParam(request: FastifyRequest): string {
  return (request.params as { team_name: string }).team_name;
}

async function findTeamOr404(ctx: AppContext, name: string): Promise<TeamRecord> {
  const team = await findTeamByName(ctx.db, name);
  if (!team) throw HttpError.notFound();
  return team;
}

/**
 * Teams (Concourse's `atc/api/teamserver`): list, get, set (create/update auth), rename, destroy.
 * Access: listing is open but shows only the caller's teams; get needs viewer; set and rename need
 * owner (creating a team needs admin); destroy is admin only.
 */
export async function teamRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/teams', { config: { access: { kind: 'open' } } }, async (request) => {
    const teams = await listTeams(ctx.db);
    return teams.filter((team) => request.accessor.hasTeamRole(team.name, 'viewer')).map(presentTeam);
  });

  app.get(
    '/api/v1/teams/:team_name',
    { config: { access: { kind: 'team', role: 'viewer' } } },
    async (request) => presentTeam(await findTeamOr404(ctx, teamNameParam(request))),
  );

  app.put(
    '/api/v1/teams/:team_name',
    { config: { access: { kind: 'team', role: 'owner' } } },
    async (request, reply) => {
      const name = teamNameParam(request);
      const auth = parseTeamAuth(request.body);
      const warnings: ConfigWarning[] = [];
      let team = await findTeamByName(ctx.db, name);
      if (team) {
        team = await updateTeamAuth(ctx.db, team.id, auth);
        if (!team) throw HttpError.notFound();
        reply.code(200);
      } else {
        // Owners of a team pass the access check only for their own (existing) team: creating is for admins.
        if (!request.accessor.isAdmin) throw new HttpError(403, 'only admins may create teams', '');
        if (name.includes('\0'))
          throw new HttpError(400, 'invalid team name', { errors: ['team: name contains a NUL character'] });
        const check = validateIdentifier(name, 'team');
        if (check && 'warning' in check) warnings.push(check.warning);
        const created = await createTeam(ctx.db, { name, auth });
        if (created) {
          team = created;
          reply.code(201);
        } else {
          // Created concurrently under the same name (in another letter case): update that one instead.
          const existing = await findTeamOr404(ctx, name);
          team = await updateTeamAuth(ctx.db, existing.id, auth);
          if (!team) throw HttpError.notFound();
          reply.code(200);
        }
      }
      // Roles are computed from the cached team list: every node must drop it (this one at once).
      await app.auth.teamsChanged();
      request.log.info({ team: team.name, created: reply.statusCode === 201 }, 'team set');
      return { ...(warnings.length > 0 ? { warnings } : {}), team: presentTeam(team) };
    },
  );

  app.put(
    '/api/v1/teams/:team_name/rename',
    { config: { access: { kind: 'team', role: 'owner' } } },
    async (request) => {
      const team = await findTeamOr404(ctx, teamNameParam(request));
      const body = request.body;
      if (!isPlainObject(body) || (body.name !== undefined && typeof body.name !== 'string'))
        throw HttpError.badRequest();
      const newName = typeof body.name === 'string' ? body.name : '';
      const check = validateIdentifier(newName, 'team');
      if (check && 'error' in check) throw new HttpError(400, check.error, { errors: [check.error] });
      if (newName.includes('\0'))
        throw new HttpError(400, 'invalid team name', { errors: ['team: name contains a NUL character'] });
      const result = await renameTeam(ctx.db, team.id, newName);
      if (result === 'not-found') throw HttpError.notFound();
      if (result === 'name-taken') {
        const message = `team: a team named '${newName}' already exists`;
        throw new HttpError(409, message, { errors: [message] });
      }
      await app.auth.teamsChanged();
      request.log.info({ from: team.name, to: newName }, 'team renamed');
      return check && 'warning' in check ? { warnings: [check.warning] } : {};
    },
  );

  app.delete(
    '/api/v1/teams/:team_name',
    { config: { access: { kind: 'admin' } } },
    async (request, reply) => {
      const team = await findTeamOr404(ctx, teamNameParam(request));
      const result = await deleteTeam(ctx.db, team.id);
      if (result === 'not-found') throw HttpError.notFound();
      // fly turns a bodiless 403 into "not-permitted-to-destroy-as-requested".
      if (result === 'last-admin-team') throw new HttpError(403, 'cannot destroy the last admin team', '');
      await app.auth.teamsChanged();
      request.log.info({ team: team.name }, 'team destroyed');
      reply.code(204);
    },
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badTeamConfig(message: string): HttpError {
  return new HttpError(400, message, { errors: [message] });
}

/**
 * The `auth` of a set-team body (`atc.Team.Validate`): not empty, every role one of Concourse's four, each
 * with at least one user or group. Lists are kept as given (matching ignores letter case).
 */
function parseTeamAuth(body: unknown): TeamAuth {
  if (body !== null && body !== undefined && !isPlainObject(body)) throw HttpError.badRequest();
  const rawAuth = isPlainObject(body) ? body.auth : undefined;
  if (rawAuth !== undefined && rawAuth !== null && !isPlainObject(rawAuth)) throw HttpError.badRequest();
  const entries = Object.entries(rawAuth ?? {});
  if (entries.length === 0) throw badTeamConfig('auth config for the team must not be empty');
  const auth: TeamAuth = {};
  for (const [role, config] of entries) {
    if (!(TEAM_ROLES as readonly string[]).includes(role)) {
      throw badTeamConfig(`unknown role '${role}' (roles are ${TEAM_ROLES.join(', ')})`);
    }
    if (config !== null && !isPlainObject(config)) throw HttpError.badRequest();
    const users = stringList(config?.users);
    const groups = stringList(config?.groups);
    if (users.length === 0 && groups.length === 0) {
      throw badTeamConfig('auth config for the team does not have users and groups configured');
    }
    auth[role as TeamRole] = { users, groups };
  }
  return auth;
}

function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw HttpError.badRequest();
  if (value.some((item: string) => item.includes('\0'))) throw HttpError.badRequest();
  return value as string[];
}
