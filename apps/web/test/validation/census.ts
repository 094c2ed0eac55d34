// What a web node holds, counted from the outside: file descriptors of a process, its descendant processes
// (PostgreSQL's own left out: the test database is a child of the test process too), connections PostgreSQL
// sees for the database, and the volumes and containers on disk. Load and fault tests count before and after
// to prove nothing leaks.
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { PostgresConnection } from '@jetbridge/db';
import { until as harnessUntil } from '../harness.js';

export interface Census {
  fds: number;
  /** Descendant processes that are not PostgreSQL. */
  processes: number;
  /** Backends connected to the database, this census's own left out. */
  dbConnections: number;
  volumes: number;
  containers: number;
}

/**
 * Open descriptors of `pid`, not counting loopback TCP connections whose both ends it holds: those are the
 * test's own HTTP client keeping connections to the in-process server alive (fetch keeps them for the
 * server's keep-alive timeout), not something the server leaked. A server socket whose client is gone is
 * still counted.
 */
export async function countFds(pid: number | 'self' = 'self'): Promise<number> {
  const fdDir = `/proc/${pid}/fd`;
  const socketInodes = new Set<string>();
  let total = 0;
  for (const fd of await readdir(fdDir)) {
    total++;
    try {
      const match = /^socket:\[(\d+)\]$/.exec(await readlink(path.join(fdDir, fd)));
      if (match?.[1]) socketInodes.add(match[1]);
    } catch {
      // Closed while we looked.
    }
  }
  const ours = new Map<string, { local: string; remote: string; state: string }>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, remote, state] = fields;
      const inode = fields[9];
      if (local && remote && state && inode && socketInodes.has(inode))
        ours.set(inode, { local, remote, state });
    }
  }
  const established = new Set(
    [...ours.values()].filter((s) => s.state === '01').map((s) => `${s.local}>${s.remote}`),
  );
  let selfConnected = 0;
  for (const socket of ours.values()) {
    if (socket.state === '01' && established.has(`${socket.remote}>${socket.local}`)) selfConnected++;
  }
  return total - selfConnected;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
}

async function processTable(): Promise<ProcInfo[]> {
  const table: ProcInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      table.push({ pid: Number(entry), ppid, comm });
    } catch {
      // Gone while we looked.
    }
  }
  return table;
}

/** Descendants of `root` (not itself), skipping PostgreSQL and everything below it. */
export async function descendantProcesses(root: number = process.pid): Promise<ProcInfo[]> {
  const table = await processTable();
  const children = new Map<number, ProcInfo[]>();
  for (const proc of table) {
    const list = children.get(proc.ppid) ?? [];
    list.push(proc);
    children.set(proc.ppid, list);
  }
  const found: ProcInfo[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (child.comm === 'postgres' || child.comm === 'pg_ctl') continue;
      found.push(child);
      walk(child.pid);
    }
  };
  walk(root);
  return found;
}

/** Backends PostgreSQL has for `connection.database`, not counting the one asking. */
export async function countDbConnections(connection: PostgresConnection): Promise<number> {
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database: connection.database,
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(
      'select count(*)::text as count from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [connection.database],
    );
    return Number(rows[0]?.count ?? 0);
  } finally {
    await client.end();
  }
}

async function countEntries(dir: string): Promise<number> {
  try {
    return (await readdir(dir)).filter((name) => !name.startsWith('.')).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** The local worker's volumes and containers under `<data-dir>/worker`. */
export async function countWorkerDirs(dataDir: string): Promise<{ volumes: number; containers: number }> {
  const workDir = path.join(dataDir, 'worker');
  return {
    volumes: await countEntries(path.join(workDir, 'volumes')),
    containers: await countEntries(path.join(workDir, 'containers')),
  };
}

export async function takeCensus(options: {
  pid?: number;
  connection: PostgresConnection;
  dataDir: string;
}): Promise<Census> {
  const pid = options.pid ?? process.pid;
  return {
    fds: await countFds(pid === process.pid ? 'self' : pid),
    processes: (await descendantProcesses(pid)).length,
    dbConnections: await countDbConnections(options.connection),
    ...(await countWorkerDirs(options.dataDir)),
  };
}

/**
 * Poll until `accept(census)` holds or `timeoutMs` passes; the last census either way (things wind down
 * asynchronously: sockets close, pool clients idle out, kept containers are destroyed).
 */
export async function settledCensus<T = Census>(
  take: () => Promise<T>,
  accept: (census: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const census = await take();
    if (accept(census) || Date.now() > deadline) return census;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Log lines at pino's error level or above (50 = error, 60 = fatal). */
export function errorLines(logs: ReadonlyArray<Record<string, unknown>>): Array<Record<string, unknown>> {
  return logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50);
}

/**
 * Runs `work`; if it throws, the server's warnings and errors since `from` are added to the message — a fault
 * test that fails once in many runs on a loaded machine then says what the server saw.
 */
export async function withServerLogsOnFailure<T>(
  logs: ReadonlyArray<Record<string, unknown>>,
  work: () => Promise<T>,
): Promise<T> {
  const from = logs.length;
  try {
    return await work();
  } catch (error) {
    const lines = logs
      .slice(from)
      .filter((line) => typeof line['level'] === 'number' && line['level'] >= 40)
      .slice(-30)
      .map((line) => JSON.stringify(line));
    if (error instanceof Error && lines.length > 0) {
      error.message += `\nthe server's warnings and errors meanwhile (last ${lines.length}):\n${lines.join('\n')}`;
    }
    throw error;
  }
}

/** The harness's {@link harnessUntil}, polling every 250 ms by default (these probes read /proc and the database). */
export function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  return harnessUntil(what, probe, timeoutMs, intervalMs);
}
