// Many builds start and end at once on one web node: their tryAcquire and release calls overlap on the one
// session connection. pg (8.x) warns when a client is handed a query while another runs, and pg 9 rejects it,
// so the queries must go one at a time — with the lock results unchanged. That connection is the locks' own,
// beside the pool (as Concourse's lock connections), dropped at close and opened again when cut.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectDatabase, type DatabaseHandle } from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import pg from 'pg';
import pino from 'pino';
import { LOCK_APPLICATION_NAME, SessionAdvisoryLocks } from './session-advisory-locks.js';

const LOCK_CLASS = 0x4a42_0077;

let postgres: TestPostgres;
let database: DatabaseHandle;
let other: DatabaseHandle;

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  countOverlaps();
  other = connectDatabase(postgres.connection);
}, 60_000);

afterAll(async () => {
  stopCountingOverlaps();
  await database?.close();
  await other?.close();
  await postgres?.destroy();
});

/**
 * Queries handed to a client while another of its queries was still running — what pg 8 warns about
 * ("Calling client.query() when the client is already executing a query is deprecated") and pg 9 rejects.
 * Counted on every pg client (the lock connection is one the locks open themselves) because jest gives tests
 * a copy of `process` that never sees Node's warnings.
 */
let overlappingQueries = 0;
const originalQuery = pg.Client.prototype.query;

function countOverlaps(): void {
  const running = new WeakMap<object, number>();
  const query = originalQuery as (this: pg.Client, ...args: unknown[]) => unknown;
  (pg.Client.prototype as { query: (this: pg.Client, ...args: unknown[]) => unknown }).query = function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const now = running.get(this) ?? 0;
    if (now > 0) overlappingQueries++;
    running.set(this, now + 1);
    const result = query.apply(this, args);
    const done = () => running.set(this, (running.get(this) ?? 1) - 1);
    if (result instanceof Promise) return result.finally(done);
    done(); // a callback or a submittable: not what the locks use
    return result;
  };
}

function stopCountingOverlaps(): void {
  pg.Client.prototype.query = originalQuery;
}

function newLocks(pool: pg.Pool = database.pool): SessionAdvisoryLocks {
  return new SessionAdvisoryLocks(pool, pino({ level: 'silent' }), {
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

/** Poll `probe` until it gives a value (10 s at most). */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The session holding LOCK_CLASS's `key`, as PostgreSQL sees it; undefined when nobody holds it. */
async function holder(key: number): Promise<{ pid: number; name: string } | undefined> {
  const { rows } = await other.pool.query<{ pid: number; name: string }>(
    `select l.pid, a.application_name as name from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 2
        and l.granted`,
    [LOCK_CLASS, key],
  );
  return rows[0];
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

  it('holds its locks on a connection of its own, named jetbridge-locks, beside a pool that is all taken', async () => {
    const small = connectDatabase({ ...postgres.connection, maxConnections: 1 });
    const locks = newLocks(small.pool);
    const taken = await small.pool.connect(); // the pool's one connection, busy for the whole test
    try {
      expect(small.pool.options.max).toBe(1);
      expect(await locks.tryAcquire(6000)).toBe(true);
      expect(locks.isHeld(6000)).toBe(true);
      const session = await holder(6000);
      expect(session?.name).toBe(LOCK_APPLICATION_NAME);
      const { rows } = await taken.query<{ pid: number }>('select pg_backend_pid() as pid');
      expect(session?.pid).not.toBe(rows[0]?.pid);
      // The pool still has just its one connection, lent out: the lock took none of it.
      expect([small.pool.totalCount, small.pool.idleCount]).toEqual([1, 0]);
      await locks.release(6000);
      expect(await holder(6000)).toBeUndefined();
    } finally {
      taken.release();
      await locks.close();
      await small.close();
    }
  }, 30_000);

  it('close() ends its session, so its locks are free for others at once', async () => {
    const locks = newLocks();
    expect(await locks.tryAcquire(7000)).toBe(true);
    expect(await locks.tryAcquire(7001)).toBe(true);
    const pid = (await holder(7000))?.pid;
    await locks.close();
    expect(await holder(7000)).toBeUndefined();
    expect(await holder(7001)).toBeUndefined();
    const { rows } = await other.pool.query('select 1 from pg_stat_activity where pid = $1', [pid]);
    expect(rows).toEqual([]);
    await expect(locks.tryAcquire(7002)).rejects.toThrow(/closed/);
  }, 30_000);

  it('takes its locks again on a new connection when its connection is cut', async () => {
    const locks = newLocks();
    try {
      expect(await locks.tryAcquire(8000)).toBe(true);
      expect(await locks.tryAcquire(8001)).toBe(true);
      await locks.release(8001);
      const before = await holder(8000);
      expect(before?.name).toBe(LOCK_APPLICATION_NAME);
      await other.pool.query('select pg_terminate_backend($1)', [before?.pid]);

      const after = await until('the lock to be held again on a new connection', async () => {
        const session = await holder(8000);
        return session && session.pid !== before?.pid ? session : undefined;
      });
      expect(after.name).toBe(LOCK_APPLICATION_NAME);
      expect(locks.isHeld(8000)).toBe(true);
      // Released before the cut: not taken again.
      expect(await holder(8001)).toBeUndefined();
      expect(locks.isHeld(8001)).toBe(false);
      // And the new connection serves new locks too.
      expect(await locks.tryAcquire(8002)).toBe(true);
      expect((await holder(8002))?.pid).toBe(after.pid);
    } finally {
      await locks.close();
    }
    expect(await holder(8000)).toBeUndefined();
  }, 30_000);
});
