import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { preparingPool } from './prepared-statements.js';
import type { Database } from './schema.js';

/** How to reach PostgreSQL; names follow Concourse's `CONCOURSE_POSTGRES_*` settings. */
export interface PostgresConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** libpq sslmode: `disable`, `require`, `verify-ca`, `verify-full`. */
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  /** Maximum connections in the pool. */
  maxConnections?: number;
  /**
   * `application_name` of the pool's connections: which pool a row of `pg_stat_activity` belongs to (the web
   * node has two, `jetbridge-api` and `jetbridge-backend`).
   */
  applicationName?: string;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

// Postgres returns bigint (count(*), sequences) as strings by default; our counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

function sslOptions(mode: PostgresConnection['sslmode']): pg.PoolConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    default:
      return { rejectUnauthorized: true };
  }
}

/** Open a pooled connection. The pool reconnects by itself when the server restarts. */
export function connectDatabase(conn: PostgresConnection, onError?: (err: Error) => void): DatabaseHandle {
  const pool = new pg.Pool({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database,
    ssl: sslOptions(conn.sslmode),
    max: conn.maxConnections ?? 10,
    ...(conn.applicationName === undefined ? {} : { application_name: conn.applicationName }),
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', (err) => onError?.(err));
  // Nor may a checked-out one: pg-pool takes its own listener off a client while it is lent, so a connection
  // cut between two queries (a transaction's, a lock holder's) would emit 'error' with nobody listening. The
  // holder learns of it anyway (its next query fails: the client is no longer queryable, and pg-pool destroys
  // it on release), so this listener only keeps the event from being fatal.
  pool.on('connect', (client) => client.on('error', ignoreLentClientError));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  return {
    db,
    pool,
    close: async () => {
      await db.destroy();
    },
  };
}

function ignoreLentClientError(): void {}

/** Wait until the database answers, retrying for a while (a freshly started or restarting server). */
export async function waitForDatabase(pool: pg.Pool, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await pool.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
