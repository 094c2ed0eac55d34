// PostgreSQL session advisory locks held on one connection of their own, for locks that last as long as some
// work in this process (a build it runs, a check it makes). A node that dies loses its connection and so its
// locks, which is how the other web nodes tell that the work has no live owner any more — Concourse's lock
// factory (atc/db/lock) works the same way.
//
// The connection is opened beside the node's pools, not taken from one, as Concourse opens its lock
// connections beside its two (`--api-max-conns`, `--backend-max-conns`): a pool's connections are all for
// work, so a small backend pool still has room for it, and no lock user can quietly eat the pool.
//
// A node that vanishes without closing its socket (host lost, network cut) would keep its locks for as long
// as PostgreSQL believes the connection alive: the connection asks the server for TCP keepalives, so a dead
// peer is noticed within about `keepaliveIdleSeconds + 3 × 5` seconds.
//
// A connection runs one query at a time: pg 8 warns when handed a query while another runs and pg 9 rejects
// it, and many builds start and end at once. So every query goes through a queue, in call order — which also
// keeps a release issued while its acquisition is still connecting after that acquisition.
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';

export interface SessionAdvisoryLocksOptions {
  /** First key of the two-key advisory lock space, one per kind of lock ("JB" + a number). */
  lockClass: number;
  /** What the locks are for, in log messages ("build tracking", "resource checking"). */
  purpose: string;
  /** Server-side TCP keepalive idle time of the lock connection; 10 s by default. */
  keepaliveIdleSeconds?: number;
}

/** `application_name` of the lock connections, to tell them apart from the pools' in `pg_stat_activity`. */
export const LOCK_APPLICATION_NAME = 'jetbridge-locks';

/**
 * Where and how `pool` connects, for a connection of the locks' own to the same database: only the settings
 * of a connection, none of the pool's (size, idle timeout), and the locks' own application_name.
 */
export function lockConnectionConfig(pool: pg.Pool): pg.ClientConfig {
  const {
    host,
    port,
    user,
    password,
    database,
    connectionString,
    ssl,
    options,
    connectionTimeoutMillis,
    keepAlive,
    keepAliveInitialDelayMillis,
  } = pool.options;
  return {
    host,
    port,
    user,
    password,
    database,
    connectionString,
    ssl,
    options,
    connectionTimeoutMillis,
    keepAlive,
    keepAliveInitialDelayMillis,
    application_name: LOCK_APPLICATION_NAME,
  };
}

/** How long close() waits for the server to see the connection go (its locks with it). */
const CLOSE_WAIT_MS = 5_000;

export class SessionAdvisoryLocks {
  private client: pg.Client | undefined;
  private readonly held = new Set<number>();
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;
  /** Keys held when the connection dropped, not taken again yet. */
  private readonly lost = new Set<number>();
  private reacquiring = false;
  /** The end of the queue of this connection's queries; never rejects. */
  private queue: Promise<unknown> = Promise.resolve();

  private readonly connectionConfig: pg.ClientConfig;

  /** `pool`: the pool whose database the locks are taken in; its connections are left to it. */
  constructor(
    pool: pg.Pool,
    private readonly logger: FastifyBaseLogger,
    private readonly options: SessionAdvisoryLocksOptions,
  ) {
    this.connectionConfig = lockConnectionConfig(pool);
  }

  /**
   * Take the lock of `key` unless someone holds it, this node included (session locks are re-entrant, so
   * that is checked here). True when this node now holds it.
   */
  async tryAcquire(key: number): Promise<boolean> {
    if (this.held.has(key)) return false;
    this.held.add(key);
    try {
      const locked = await this.serially(async () => {
        const client = await this.connection();
        const { rows } = await client.query<{ locked: boolean }>(
          'select pg_try_advisory_lock($1, $2) as locked',
          [this.options.lockClass, key],
        );
        return rows[0]?.locked === true;
      });
      if (locked) return true;
    } catch (err) {
      this.held.delete(key);
      throw err;
    }
    this.held.delete(key);
    return false;
  }

  isHeld(key: number): boolean {
    return this.held.has(key) || this.lost.has(key);
  }

  async release(key: number): Promise<void> {
    // Lost with the connection and not taken again yet: nothing to unlock, and nothing to take again.
    if (this.lost.delete(key)) return;
    if (!this.held.delete(key)) return;
    try {
      await this.serially(async () => {
        // The connection of the queries queued before this one (the acquisition's, when it was connecting).
        await this.client?.query('select pg_advisory_unlock($1, $2)', [this.options.lockClass, key]);
      });
    } catch (err) {
      this.logger.warn({ err, key }, `failed to release ${this.options.purpose} lock`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.held.clear();
    this.lost.clear();
    // Ending the session drops every lock at once; a server out of reach is not waited for long.
    if (client) await endWithin(client, CLOSE_WAIT_MS);
  }

  /** Run `query` once the queries queued before it have ended. */
  private serially<T>(query: () => Promise<T>): Promise<T> {
    const result = this.queue.then(query);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error(`${this.options.purpose} locks are closed`));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.connectionConfig);
    // Listening before connecting: a connection that drops at any time must not crash the process.
    client.on('error', (err) => this.onConnectionLost(client, err));
    try {
      await client.connect();
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await endWithin(client, CLOSE_WAIT_MS);
      throw new Error(`${this.options.purpose} locks are closed`);
    }
    // From here a drop is a lost connection like any other (onConnectionLost).
    this.client = client;
    const idle = Math.max(1, Math.round(this.options.keepaliveIdleSeconds ?? 10));
    // Best effort: a server that refuses (e.g. a pooler in between) still gives working locks.
    await client
      .query(
        `set tcp_keepalives_idle = ${idle}; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3`,
      )
      .catch((err: unknown) =>
        this.logger.debug({ err }, 'cannot set TCP keepalives on the lock connection'),
      );
    return client;
  }

  /**
   * The database connection dropped and the locks with it: take them again for the work still running here.
   * One loop does it, however often the connection drops meanwhile (a restarting server cuts the first
   * reconnections too), so a key is never taken twice; work that ends meanwhile is not re-taken.
   */
  private onConnectionLost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.logger.warn({ err }, `lost the connection holding ${this.options.purpose} locks; re-acquiring`);
    this.client = undefined;
    void client.end().catch(() => undefined);
    for (const key of this.held) this.lost.add(key);
    this.held.clear();
    void this.reacquireLost();
  }

  private async reacquireLost(): Promise<void> {
    if (this.reacquiring) return;
    this.reacquiring = true;
    try {
      for (let attempt = 1; !this.closed && this.lost.size > 0; attempt++) {
        try {
          for (const key of [...this.lost]) {
            if (!this.lost.has(key)) continue;
            const taken = await this.tryAcquire(key);
            if (!this.lost.delete(key)) {
              // Released while being taken again: the work is over.
              if (taken) await this.release(key);
            } else if (!taken) {
              this.logger.error({ key }, `another node took a ${this.options.purpose} lock held here`);
            }
          }
        } catch (retryErr) {
          this.logger.warn({ err: retryErr, attempt }, `cannot re-acquire ${this.options.purpose} locks yet`);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    } finally {
      this.reacquiring = false;
    }
  }
}

/** End `client`'s session, waiting at most `ms` for it to go (a peer out of reach never answers). */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([client.end().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
