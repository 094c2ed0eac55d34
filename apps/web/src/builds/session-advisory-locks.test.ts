// Many builds start and end at once on one web node: their tryAcquire and release calls overlap on the one
// session connection. pg (8.x) warns when a client is handed a query while another runs, and pg 9 rejects it,
// so the queries must go one at a time — with the lock results unchanged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectDatabase, type DatabaseHandle } from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import pino from 'pino';
import { SessionAdvisoryLocks } from './session-advisory-locks.js';

const LOCK_CLASS = 0x4a42_0077;

let postgres: TestPostgres;
let database: DatabaseHandle;
let other: DatabaseHandle;

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  countOverlaps(database.pool);
  other = connectDatabase(postgres.connection);
}, 60_000);

afterAll(async () => {
  await database?.close();
  await other?.close();
  await postgres?.destroy();
});

/**
 * Queries handed to a pool client while another of its queries was still running — what pg 8 warns about
 * ("Calling client.query() when the client is already executing a query is deprecated") and pg 9 rejects.
 * Counted on the client itself because jest gives tests a copy of `process` that never sees Node's warnings.
 */
let overlappingQueries = 0;

function countOverlaps(pool: DatabaseHandle['pool']): void {
  pool.on('connect', (client) => {
    let running = 0;
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
      if (running > 0) overlappingQueries++;
      running++;
      return query(...args).finally(() => running--);
    };
  });
}

function newLocks(): SessionAdvisoryLocks {
  return new SessionAdvisoryLocks(database.pool, pino({ level: 'silent' }), {
    lockClass: LOCK_CLASS,
    purpose: 'test',
  });
}

/** The keys of LOCK_CLASS some session holds, as PostgreSQL sees them. */
async function heldInDatabase(): Promise<number[]> {
  const { rows } = await other.pool.query<{ key: number }>(
    `select objid::int as key from pg_locks where locktype = 'advisory' and classid = $1::oid and objsubid = 2
     order by objid`,
    [LOCK_CLASS],
  );
  return rows.map((row) => row.key);
}

describe('SessionAdvisoryLocks', () => {
  it('serialises overlapping acquire/release on its one connection: none while another runs, right results', async () => {
    const locks = newLocks();
    try {
      // Another session holds the odd keys: this node must be refused those, get the even ones.
      const blocker = await other.pool.connect();
      try {
        for (let key = 1; key < 100; key += 2) {
          await blocker.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS, key]);
        }

        const keys = Array.from({ length: 100 }, (_, index) => index);
        const first = await Promise.all(keys.map((key) => locks.tryAcquire(key)));
        expect(first).toEqual(keys.map((key) => key % 2 === 0));

        // Releases and new acquisitions in flight together (builds ending while others start).
        const mixed = await Promise.all(
          keys.flatMap((key) =>
            key % 4 === 0
              ? [locks.release(key).then(() => 'released')]
              : [locks.tryAcquire(key).then((taken) => (taken ? 'taken' : 'refused'))],
          ),
        );
        expect(mixed).toEqual(
          keys.map((key) => (key % 4 === 0 ? 'released' : 'refused')), // held here already, or by the blocker
        );
        expect(overlappingQueries).toBe(0);
        const evens = keys.filter((key) => key % 2 === 0);
        expect(evens.map((key) => locks.isHeld(key))).toEqual(evens.map((key) => key % 4 !== 0));

        // Acquire and release of the same keys overlapping: each ends released, nothing leaks.
        const churn = keys.filter((key) => key % 4 === 0);
        await Promise.all(churn.flatMap((key) => [locks.tryAcquire(key), locks.release(key)]));
        expect(churn.filter((key) => locks.isHeld(key))).toEqual([]);

        const inDatabase = await heldInDatabase();
        const expected = [...keys.filter((key) => key % 2 === 1), ...evens.filter((key) => key % 4 === 2)];
        expect(inDatabase).toEqual(expected.sort((a, b) => a - b));
      } finally {
        blocker.release(true);
      }
      expect(overlappingQueries).toBe(0);
    } finally {
      await locks.close();
    }
  }, 60_000);

  it('a release racing the first acquisition (before the connection exists) still unlocks', async () => {
    const locks = newLocks();
    try {
      const acquiring = locks.tryAcquire(5000);
      const releasing = locks.release(5000);
      await Promise.all([acquiring, releasing]);
      expect(locks.isHeld(5000)).toBe(false);
      expect(await heldInDatabase()).not.toContain(5000);
    } finally {
      await locks.close();
    }
  }, 30_000);
});
