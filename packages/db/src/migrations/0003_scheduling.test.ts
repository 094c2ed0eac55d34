import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { connectDatabase, type DatabaseHandle } from '../connect.js';
import { migrateToLatest } from '../migrate.js';
import { startTestPostgres, type TestPostgres } from '../testing.js';
import { migrations } from './index.js';

describe('0003_scheduling on a real PostgreSQL', () => {
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

  const tables = async () =>
    (
      await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public'`.execute(handle.db)
    ).rows.map((row) => row.table_name);
  const indexes = async () =>
    (
      await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = 'public'`.execute(
        handle.db,
      )
    ).rows.map((row) => row.indexname);

  it('adds build pipes and the scheduler indexes, and migrates down to 0002 and up again', async () => {
    expect(await tables()).toEqual(expect.arrayContaining(['build_pipes', 'next_build_pipes']));
    expect(await indexes()).toEqual(
      expect.arrayContaining(['builds_job_succeeded_order', 'builds_job_unfinished']),
    );

    const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations } });
    const down = await migrator.migrateTo('0002_pipelines');
    expect(down.error).toBeUndefined();
    expect(await tables()).not.toContain('build_pipes');
    expect(await indexes()).not.toContain('builds_job_succeeded_order');
    const columns = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'builds'`.execute(handle.db);
    expect(columns.rows.map((row) => row.column_name)).not.toContain('scheduled');

    const up = await migrateToLatest(handle.db);
    expect(up.map((result) => result.migrationName)).toContain('0003_scheduling');
    expect(await tables()).toEqual(expect.arrayContaining(['build_pipes', 'next_build_pipes']));
  });
});
