import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import pg from 'pg';
import { LISTENER_APPLICATION_NAME } from '../src/auth/auth-change-listener.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, setPipeline } from './pipeline-client.js';
import { errorLines, until } from './validation/census.js';

/**
 * What a database restart does to a web node's connections, the cheap way: PostgreSQL terminates every
 * backend of the node (57P01, as a fast shutdown does), including the pooled ones, the auth listener's and
 * one a transaction holds checked out between two queries. A connection that emits 'error' with nobody
 * listening would crash the process; instead the node keeps serving, with fresh connections.
 */
let ts: TestServer;
let admin: string;

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
}, 60_000);

afterAll(async () => {
  await ts?.destroy();
});

/** A connection of the test's own, outside the node. */
async function withOwnConnection<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const { host, port, user, password, database } = ts.postgres.connection;
  const client = new pg.Client({ host, port, user, password, database });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Terminate every backend of the node's database but the asking one; how many were cut. */
function terminateNodeConnections(): Promise<number> {
  return withOwnConnection(async (client) => {
    // The pids first, then the termination: in one WHERE, PostgreSQL may terminate before it filters.
    const { rows } = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [ts.postgres.connection.database],
    );
    const cut = await client.query<{ pid: number }>(
      'select pid from unnest($1::int[]) as pid where pg_terminate_backend(pid)',
      [rows.map((row) => row.pid)],
    );
    return cut.rows.length;
  });
}

function listenerConnected(): Promise<boolean> {
  return withOwnConnection(async (client) => {
    const { rows } = await client.query(
      'select 1 from pg_stat_activity where datname = $1 and application_name = $2',
      [ts.postgres.connection.database, LISTENER_APPLICATION_NAME],
    );
    return rows.length > 0;
  });
}

describe('the node’s database connections cut at once', () => {
  it('does not crash the node, which keeps serving API requests on fresh connections', async () => {
    await setPipeline(ts.url, admin, 'main', 'before-cut', 'jobs:\n- name: j\n  plan: []\n');
    await until('the auth listener to connect', async () => ((await listenerConnected()) ? true : undefined));

    // A transaction of the node's pool, idle between two queries when its connection is cut: the error comes
    // in while no query is running, which pg reports as an 'error' event on the checked-out client.
    const { db } = ts.server.ctx;
    const transaction = db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      const cut = await terminateNodeConnections();
      await new Promise((resolve) => setTimeout(resolve, 500)); // the termination notice arrives meanwhile
      await sql`select 1`.execute(trx);
      return cut;
    });
    await expect(transaction).rejects.toThrow();

    // The listener, the lock connection and every pooled connection were among those cut; the node carries on.
    const { status } = await fetch(`${ts.url}/api/v1/info`);
    expect(status).toBe(200);
    await until('the node to answer from the database again', async () =>
      (await fetch(`${ts.url}/api/v1/health`)).status === 200 ? true : undefined,
    );
    const again = await loginToken(ts.url, ADMIN);
    await setPipeline(ts.url, again, 'main', 'after-cut', 'jobs:\n- name: j\n  plan: []\n');
    const pipelines = await call(`${ts.url}/api/v1/teams/main/pipelines`, again);
    expect(pipelines.status).toBe(200);
    expect(
      pipelines
        .json<Array<{ name: string }>>()
        .map((p) => p.name)
        .sort(),
    ).toEqual(['after-cut', 'before-cut']);
    // The auth listener reconnects by itself.
    await until('the auth listener to reconnect', async () =>
      (await listenerConnected()) ? true : undefined,
    );

    // Cut once more with nothing checked out: idle pooled clients and the listener again.
    expect(await terminateNodeConnections()).toBeGreaterThan(0);
    await until('the node to answer again after a second cut', async () => {
      const res = await call(`${ts.url}/api/v1/teams/main/pipelines`, again);
      return res.status === 200 ? true : undefined;
    });
    // Anything logged as an error is the cut itself (a query that was running on a cut connection, e.g. a
    // scheduler tick's), never a failure of its own.
    const causes = errorLines(ts.logs).map(
      (line) => (line['err'] as { message?: string } | undefined)?.message,
    );
    for (const cause of causes) {
      expect(cause).toMatch(/terminating connection|Connection terminated|connection error|not queryable/);
    }
  }, 60_000);
});
