// Teams and their auth (Concourse's atc/db/team.go, team_factory.go). Names are looked up
// case-insensitively, as `teamFactory.FindTeam` does (`LOWER(name)`), and stored as given.
import { sql, type Kysely } from 'kysely';
import type { Database, TeamAuth } from '../schema.js';

export interface TeamRecord {
  id: number;
  name: string;
  auth: TeamAuth;
  /** Owners of an admin team are admins (the `main` team). */
  admin: boolean;
}

function teamsQuery(db: Kysely<Database>) {
  return db.selectFrom('teams').select(['id', 'name', 'auth', 'admin']);
}

type TeamRow = Awaited<ReturnType<ReturnType<typeof teamsQuery>['executeTakeFirstOrThrow']>>;

function toRecord(row: TeamRow): TeamRecord {
  return { id: row.id, name: row.name, auth: row.auth ?? {}, admin: row.admin };
}

/** Every team, ordered by id (the accessor computes roles against all of them on each request). */
export async function listTeams(db: Kysely<Database>): Promise<TeamRecord[]> {
  const rows = await teamsQuery(db).orderBy('id').execute();
  return rows.map(toRecord);
}

export async function findTeamByName(db: Kysely<Database>, name: string): Promise<TeamRecord | undefined> {
  // PostgreSQL text cannot hold NUL: no team has such a name (and asking would be an error).
  if (name.includes('\0')) return undefined;
  const row = await teamsQuery(db)
    .where(sql<string>`lower(name)`, '=', name.toLowerCase())
    .orderBy('id')
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** Create a team. Undefined when a team of that name (in any letter case) already exists. */
export async function createTeam(
  db: Kysely<Database>,
  team: { name: string; auth: TeamAuth; admin?: boolean },
): Promise<TeamRecord | undefined> {
  return db.transaction().execute(async (tx) => {
    // Serialise creations/renames so the case-insensitive uniqueness check cannot race.
    await sql`lock table teams in share row exclusive mode`.execute(tx);
    if (await findTeamByName(tx, team.name)) return undefined;
    const row = await tx
      .insertInto('teams')
      .values({ name: team.name, auth: JSON.stringify(team.auth), admin: team.admin ?? false })
      .returning(['id', 'name', 'auth', 'admin'])
      .executeTakeFirstOrThrow();
    return toRecord(row);
  });
}

/** Replace a team's auth (set-team on an existing team). Undefined when the team is gone. */
export async function updateTeamAuth(
  db: Kysely<Database>,
  id: number,
  auth: TeamAuth,
): Promise<TeamRecord | undefined> {
  const row = await db
    .updateTable('teams')
    .set({ auth: JSON.stringify(auth) })
    .where('id', '=', id)
    .returning(['id', 'name', 'auth', 'admin'])
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

export type RenameTeamResult = 'renamed' | 'not-found' | 'name-taken';

/** Rename a team; another team already holding the name (in any letter case) makes it `name-taken`. */
export async function renameTeam(
  db: Kysely<Database>,
  id: number,
  newName: string,
): Promise<RenameTeamResult> {
  return db.transaction().execute(async (tx) => {
    // Same lock as createTeam: the case-insensitive uniqueness check must not race.
    await sql`lock table teams in share row exclusive mode`.execute(tx);
    const clash = await tx
      .selectFrom('teams')
      .select('id')
      .where(sql<string>`lower(name)`, '=', newName.toLowerCase())
      .where('id', '!=', id)
      .executeTakeFirst();
    if (clash) return 'name-taken';
    const result = await tx
      .updateTable('teams')
      .set({ name: newName })
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n ? 'renamed' : 'not-found';
  });
}

/**
 * Delete a team and, through the foreign keys, its builds, build events and artifacts. Refuses (returns
 * `last-admin-team`) to delete the only admin team, checked in the same transaction as the delete.
 */
export async function deleteTeam(
  db: Kysely<Database>,
  id: number,
): Promise<'deleted' | 'not-found' | 'last-admin-team'> {
  return db.transaction().execute(async (tx) => {
    await sql`lock table teams in share row exclusive mode`.execute(tx);
    const team = await tx.selectFrom('teams').select(['id', 'admin']).where('id', '=', id).executeTakeFirst();
    if (!team) return 'not-found';
    if (team.admin) {
      const admins = await tx
        .selectFrom('teams')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('admin', '=', true)
        .executeTakeFirstOrThrow();
      if (Number(admins.count) <= 1) return 'last-admin-team';
    }
    // Builds before the team's pipelines and jobs, in the order finishing a build locks them (see deletePipeline).
    await tx.deleteFrom('builds').where('team_id', '=', id).execute();
    await tx.deleteFrom('teams').where('id', '=', id).execute();
    return 'deleted';
  });
}

/** The team a build belongs to (build read/write access checks): undefined when the build does not exist. */
export async function findBuildTeam(
  db: Kysely<Database>,
  buildId: number,
): Promise<
  | { buildId: number; teamId: number; teamName: string; pipelineId: number | null; jobId: number | null }
  | undefined
> {
  const row = await db
    .selectFrom('builds as b')
    .innerJoin('teams as t', 't.id', 'b.team_id')
    .select(['b.id', 'b.team_id', 't.name as team_name', 'b.pipeline_id', 'b.job_id'])
    .where('b.id', '=', buildId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    buildId: row.id,
    teamId: row.team_id,
    teamName: row.team_name,
    pipelineId: row.pipeline_id,
    jobId: row.job_id,
  };
}
