import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { connectDatabase, type DatabaseHandle } from '../connect.js';
import { migrateToLatest } from '../migrate.js';
import { createJobBuild, findJob } from '../queries/jobs.js';
import { savePipeline, deletePipeline, type SavedPipelineConfig } from '../queries/pipelines.js';
import { startTestPostgres, type TestPostgres } from '../testing.js';
import { migrations } from './index.js';

const CONFIG: SavedPipelineConfig = {
  config: { jobs: [{ name: 'j', plan: [] }] },
  groups: null,
  display: null,
  userData: null,
  resources: [],
  resourceTypes: [],
  jobs: [
    {
      name: 'j',
      config: { name: 'j', plan: [] },
      public: false,
      maxInFlight: 0,
      disableManualTrigger: false,
      disableReruns: false,
      interruptible: false,
      serialGroups: [],
      groups: [],
      inputs: [],
      outputs: [],
    },
  ],
};

describe('0002_pipelines on a real PostgreSQL', () => {
  let pg: TestPostgres;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    pg = await startTestPostgres();
    handle = connectDatabase(pg.connection);
    await migrateToLatest(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
    await pg?.destroy();
  });

  it('ties builds to their pipeline: destroying the pipeline deletes its builds, not others', async () => {
    const { db } = handle;
    const team = await db
      .insertInto('teams')
      .values({ name: 't', auth: '{}' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const oneOff = await db
      .insertInto('builds')
      .values({ name: '1', team_id: team.id, status: 'started' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { pipeline } = await savePipeline(db, {
      teamId: team.id,
      name: 'p',
      instanceVars: null,
      fromVersion: 0,
      initiallyPaused: true,
      config: CONFIG,
    });
    const job = await findJob(db, pipeline.id, 'j');
    const build = await createJobBuild(db, job!.id, { createdBy: 'me', manuallyTriggered: true });
    expect(build?.name).toBe('1');
    await deletePipeline(db, pipeline.id);
    const left = await db.selectFrom('builds').select('id').orderBy('id').execute();
    expect(left.map((row) => row.id)).toEqual([oneOff.id]);
  });

  it('migrates down to the foundation and up again', async () => {
    const { db } = handle;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const down = await migrator.migrateTo('0001_foundation');
    expect(down.error).toBeUndefined();
    const tables = async () =>
      (
        await sql<{ table_name: string }>`
          select table_name from information_schema.tables where table_schema = 'public'`.execute(db)
      ).rows.map((row) => row.table_name);
    expect(await tables()).not.toContain('pipelines');
    expect(await tables()).toContain('builds');
    const columns = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'builds'`.execute(db);
    expect(columns.rows.map((row) => row.column_name)).not.toContain('inputs_ready');

    const up = await migrateToLatest(db);
    expect(up.map((result) => result.migrationName)).toEqual(
      Object.keys(migrations).filter((name) => name > '0001_foundation'),
    );
    expect(await tables()).toEqual(
      expect.arrayContaining(['pipelines', 'jobs', 'resources', 'resource_config_versions']),
    );
  });
});
