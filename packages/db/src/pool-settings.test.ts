// What the web node's two pools need from this package: the embedded PostgreSQL's max_connections (room for
// both pools, full) and each pool's application_name (which pool a pg_stat_activity row belongs to).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { connectDatabase, type DatabaseHandle } from './connect.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';

describe('pool settings on a real embedded PostgreSQL', () => {
  let dataDir: string;
  let server: EmbeddedPostgres | undefined;
  const handles: DatabaseHandle[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-pool-settings-'));
  });

  afterAll(async () => {
    await Promise.all(handles.map((handle) => handle.close()));
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(maxConnections?: number): Promise<DatabaseHandle> {
    server = await startEmbeddedPostgres({ dataDir, ...(maxConnections ? { maxConnections } : {}) });
    const handle = connectDatabase({ ...server.connection, applicationName: 'pool-settings-test' });
    handles.push(handle);
    return handle;
  }

  async function maxConnectionsOf(handle: DatabaseHandle): Promise<number> {
    const { rows } = await sql<{ max: string }>`select current_setting('max_connections') as max`.execute(
      handle.db,
    );
    return Number(rows[0]?.max);
  }

  it('starts with the max_connections asked for, at every start, and names its connections', async () => {
    const first = await start(137);
    expect(await maxConnectionsOf(first)).toBe(137);
    const { rows } = await sql<{ name: string }>`
      select application_name as name from pg_stat_activity where pid = pg_backend_pid()`.execute(first.db);
    expect(rows[0]?.name).toBe('pool-settings-test');
    await first.close();
    handles.pop();
    await server?.stop();

    // The setting is a start flag, not written into the cluster: the next start decides again.
    const second = await start(211);
    expect(await maxConnectionsOf(second)).toBe(211);
    await second.close();
    handles.pop();
    await server?.stop();

    const third = await start();
    expect(await maxConnectionsOf(third)).toBe(100);
  }, 120_000);
});
