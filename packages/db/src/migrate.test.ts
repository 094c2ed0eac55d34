import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { connectDatabase } from './connect.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';
import { startTestPostgres, type TestPostgres } from './testing.js';

describe('migrations on a real PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    // A non-default user and database name, as an operator's external PostgreSQL would have.
    pg = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
  });
  afterAll(async () => {
    await pg.destroy();
  });

  it('creates every table, and a second run changes nothing', async () => {
    const handle = connectDatabase(pg.connection);
    try {
      const first = await migrateToLatest(handle.db);
      expect(first.map((r) => r.migrationName)).toEqual(Object.keys(migrations));
      expect(first.every((r) => r.status === 'Success')).toBe(true);
      const second = await migrateToLatest(handle.db);
      expect(second).toEqual([]);
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
        handle.db,
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          'access_tokens',
          'artifacts',
          'build_events',
          'build_step_results',
          'builds',
          'settings',
          'teams',
          'users',
        ]),
      );
    } finally {
      await handle.close();
    }
  });

  it('runs safely from two nodes at once', async () => {
    const a = connectDatabase(pg.connection);
    const b = connectDatabase(pg.connection);
    try {
      await Promise.all([migrateToLatest(a.db), migrateToLatest(b.db)]);
      const count = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(a.db);
      expect(count.rows[0]?.n).toBe(Object.keys(migrations).length);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('the embedded PostgreSQL', () => {
  it('keeps its data across a restart in the same data directory', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-pg-restart-'));
    try {
      const first = await startEmbeddedPostgres({ dataDir });
      const a = connectDatabase(first.connection);
      await migrateToLatest(a.db);
      await a.db
        .insertInto('teams')
        .values({ name: 'survivor', auth: JSON.stringify({}) })
        .execute();
      await a.close();
      await first.stop();

      const second = await startEmbeddedPostgres({ dataDir });
      const b = connectDatabase(second.connection);
      const rows = await b.db.selectFrom('teams').select('name').execute();
      expect(rows.map((r) => r.name)).toEqual(['survivor']);
      expect(await migrateToLatest(b.db)).toEqual([]);
      await b.close();
      await second.stop();
      await second.stop(); // stopping twice is harmless
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
