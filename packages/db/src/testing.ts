import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase, type DatabaseHandle, type PostgresConnection } from './connect.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrateToLatest } from './migrate.js';
import { createTeam } from './queries/teams.js';

export interface TestPostgres {
  connection: PostgresConnection;
  dataDir: string;
  /** Stop the server and delete its data. */
  destroy(): Promise<void>;
}

/**
 * A real, throwaway PostgreSQL for tests (embedded-postgres in a temp directory). Each call is a separate
 * cluster, so tests never share state.
 */
export async function startTestPostgres(
  options: { user?: string; database?: string; maxConnections?: number } = {},
): Promise<TestPostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-pg-'));
  // Room for a few web nodes on one database (replica tests), each with its api and backend pools full
  // (10 + 50 + its lock sessions by default): PostgreSQL's default of 100 fits only one.
  const server = await startEmbeddedPostgres({ dataDir, maxConnections: 300, ...options });
  return {
    connection: server.connection,
    dataDir,
    destroy: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestDatabase {
  postgres: TestPostgres;
  database: DatabaseHandle;
  /** Disconnect, stop the server and delete its data. */
  destroy(): Promise<void>;
}

/** A throwaway PostgreSQL with JetBridge's schema and a `main` team, connected: for tests of queries. */
export async function startTestDatabase(): Promise<TestDatabase> {
  const postgres = await startTestPostgres();
  const database = connectDatabase(postgres.connection);
  await migrateToLatest(database.db);
  await createTeam(database.db, { name: 'main', auth: {} });
  return {
    postgres,
    database,
    destroy: async () => {
      await database.close();
      await postgres.destroy();
    },
  };
}
