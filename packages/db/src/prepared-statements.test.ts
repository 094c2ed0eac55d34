// Marked query texts reach PostgreSQL as named statements of the session that ran them; everything else
// (other texts, transactions, a query that fails) runs as before through the same pooled clients.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { connectDatabase, type DatabaseHandle } from './connect.js';
import { markPrepared } from './prepared-statements.js';
import { startTestPostgres, type TestPostgres } from './testing.js';

let postgres: TestPostgres;
let handle: DatabaseHandle;

beforeAll(async () => {
  postgres = await startTestPostgres();
  // One connection: the session whose prepared statements the test reads is the one that ran the queries.
  handle = connectDatabase({ ...postgres.connection, maxConnections: 1 });
});

afterAll(async () => {
  await handle?.close();
  await postgres?.destroy();
});

async function sessionStatements(): Promise<Array<{ name: string; statement: string }>> {
  const { rows } = await sql<{ name: string; statement: string }>`
    select name, statement from pg_prepared_statements order by name`.execute(handle.db);
  return rows;
}

describe('prepared statements', () => {
  it('sends a marked text under one name per text, with its parameters, and leaves other texts unnamed', async () => {
    const marked = sql<{ doubled: number }>`select ${21}::int * 2 as doubled`.compile(handle.db);
    markPrepared(marked.sql);
    markPrepared(marked.sql);
    for (const value of [21, 5]) {
      const query = sql<{ doubled: number }>`select ${value}::int * 2 as doubled`.compile(handle.db);
      expect(query.sql).toBe(marked.sql);
      const { rows } = await handle.db.executeQuery(query);
      expect(rows).toEqual([{ doubled: value * 2 }]);
    }
    const unmarked = await sql<{ tripled: number }>`select ${4}::int * 3 as tripled`.execute(handle.db);
    expect(unmarked.rows).toEqual([{ tripled: 12 }]);

    const statements = await sessionStatements();
    expect(statements).toHaveLength(1);
    expect(statements[0]?.name).toMatch(/^jetbridge_[0-9a-f]{24}$/);
    expect(statements[0]?.statement).toBe(marked.sql);
  });

  it('runs marked texts inside transactions, and a failing one fails as before without losing the client', async () => {
    const failing = sql`select 1 / ${0}::int as never`.compile(handle.db);
    markPrepared(failing.sql);
    await expect(handle.db.executeQuery(failing)).rejects.toThrow(/division by zero/);
    const inTransaction = await handle.db.transaction().execute(async (trx) => {
      const query = sql<{ doubled: number }>`select ${8}::int * 2 as doubled`.compile(trx);
      return (await trx.executeQuery(query)).rows;
    });
    expect(inTransaction).toEqual([{ doubled: 16 }]);
    expect((await sessionStatements()).map((s) => s.statement)).toContain(failing.sql);
  });
});
