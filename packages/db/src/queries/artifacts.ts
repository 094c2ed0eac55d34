// Artifacts known to the API (Concourse's worker_artifacts): `fly execute -i` uploads, and the outputs a
// build registers with `artifact_output` for `fly execute -o` to download. Each is backed by a volume.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface ArtifactRecord {
  id: number;
  volumeHandle: string;
  teamId: number;
  teamName: string;
  /** The build that registered it as an output; null for uploads. */
  buildId: number | null;
  /** The output name; "" for uploads. */
  name: string;
  createdAt: Date;
}

function artifactsQuery(db: Kysely<Database>) {
  return db
    .selectFrom('artifacts as a')
    .innerJoin('teams as t', 't.id', 'a.team_id')
    .select([
      'a.id',
      'a.volume_handle',
      'a.team_id',
      't.name as team_name',
      'a.build_id',
      'a.name',
      'a.created_at',
    ]);
}

type ArtifactRow = Awaited<ReturnType<ReturnType<typeof artifactsQuery>['executeTakeFirstOrThrow']>>;

function toRecord(row: ArtifactRow): ArtifactRecord {
  return {
    id: row.id,
    volumeHandle: row.volume_handle,
    teamId: row.team_id,
    teamName: row.team_name,
    buildId: row.build_id,
    name: row.name,
    createdAt: row.created_at,
  };
}

/** Record an uploaded artifact of a team. Undefined when the team does not exist. */
export async function createUploadedArtifact(
  db: Kysely<Database>,
  upload: { teamName: string; volumeHandle: string },
): Promise<ArtifactRecord | undefined> {
  const inserted = await db
    .insertInto('artifacts')
    .columns(['volume_handle', 'team_id'])
    .expression((eb) =>
      eb
        .selectFrom('teams')
        .select([sql<string>`${upload.volumeHandle}::text`.as('volume_handle'), 'teams.id'])
        .where('teams.name', '=', upload.teamName),
    )
    .returning('id')
    .executeTakeFirst();
  return inserted === undefined ? undefined : findArtifact(db, inserted.id);
}

export async function findArtifact(db: Kysely<Database>, id: number): Promise<ArtifactRecord | undefined> {
  const row = await artifactsQuery(db).where('a.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/**
 * Make a volume the build's artifact `name` (an `artifact_output` step). A second registration of the same
 * name replaces the first; a volume already known as an artifact (an input passed through as an output) is
 * re-labelled rather than duplicated.
 */
export async function registerBuildOutputArtifact(
  db: Kysely<Database>,
  output: { buildId: number; name: string; volumeHandle: string },
): Promise<ArtifactRecord> {
  return db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('artifacts')
      .where('build_id', '=', output.buildId)
      .where('name', '=', output.name)
      .where('volume_handle', '<>', output.volumeHandle)
      .execute();
    const inserted = await trx
      .insertInto('artifacts')
      .columns(['volume_handle', 'team_id', 'build_id', 'name'])
      .expression((eb) =>
        eb
          .selectFrom('builds')
          .select([
            sql<string>`${output.volumeHandle}::text`.as('volume_handle'),
            'builds.team_id',
            'builds.id',
            sql<string>`${output.name}::text`.as('name'),
          ])
          .where('builds.id', '=', output.buildId),
      )
      .onConflict((oc) =>
        oc
          .column('volume_handle')
          .doUpdateSet((eb) => ({ build_id: eb.ref('excluded.build_id'), name: eb.ref('excluded.name') })),
      )
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) throw new Error(`build ${output.buildId} does not exist`);
    const record = await artifactsQuery(trx).where('a.id', '=', inserted.id).executeTakeFirstOrThrow();
    return toRecord(record);
  });
}

/** The artifacts a build registered as outputs, oldest first. */
export async function listBuildArtifacts(db: Kysely<Database>, buildId: number): Promise<ArtifactRecord[]> {
  const rows = await artifactsQuery(db).where('a.build_id', '=', buildId).orderBy('a.id').execute();
  return rows.map(toRecord);
}

/** The rows of whichever of these volumes are artifacts (garbage collection asks about every volume). */
export async function findArtifactsByVolumeHandles(
  db: Kysely<Database>,
  volumeHandles: readonly string[],
): Promise<ArtifactRecord[]> {
  if (volumeHandles.length === 0) return [];
  const rows = await artifactsQuery(db)
    .where('a.volume_handle', 'in', [...volumeHandles])
    .execute();
  return rows.map(toRecord);
}

/** Forget the artifact of a volume that was deleted; nothing happens for a volume that was not one. */
export async function deleteArtifactOfVolume(db: Kysely<Database>, volumeHandle: string): Promise<void> {
  await db.deleteFrom('artifacts').where('volume_handle', '=', volumeHandle).execute();
}

/**
 * Ids of the artifacts that builds not finished yet read through `artifact_input` steps anywhere in their
 * plans: their uploads must outlive any expiry while those builds run.
 */
export async function listArtifactIdsReadByUnfinishedBuilds(db: Kysely<Database>): Promise<Set<number>> {
  // `lax` mode unwraps arrays as `.**` descends, so the same id can come out more than once: distinct.
  const { rows } = await sql<{ artifact_id: number }>`
    select distinct (ids.value)::int as artifact_id
    from builds b
    cross join lateral jsonb_path_query(b.plan, 'lax $.**.artifact_input.artifact_id') as ids(value)
    where b.status in ('pending', 'started') and b.plan is not null
      and jsonb_typeof(ids.value) = 'number'
  `.execute(db);
  return new Set(rows.map((row) => row.artifact_id));
}
