// PostgreSQL session advisory locks held on one connection of their own, for locks that last as long as some
// work in this process (a build it runs, a check it makes). A node that dies loses its connection and so its
// locks, which is how the other web nodes tell that the work has no live owner any more — Concourse's lock
// factory (atc/db/lock) works the same way.
//
// A node that vanishes without closing its socket (host lost, network cut) would keep its locks for as long
// as PostgreSQL believes the connection alive: the connection asks the server for TCP keepalives, so a dead
// peer is noticed within about `keepaliveIdleSeconds + 3 × 5` seconds.
//
// A connection runs one query at a time: pg 8 warns when handed a query while another runs and pg 9 rejects
// it, and many builds start and end at once. So every query goes through a queue, in call order — which also
// keeps a release issued while its acquisition is still connecting after that acquisition.
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';

export interface SessionAdvisoryLocksOptions {
  /** First key of the two-key advisory lock space, one per kind of lock ("JB" + a number). */
  lockClass: number;
  /** What the locks are for, in log messages ("build tracking", "resource checking"). */
  purpose: string;
  /** Server-side TCP keepalive idle time of the lock connection; 10 s by default. */
  keepaliveIdleSeconds?: number;
}

export class SessionAdvisoryLocks {
  private client: pg.PoolClient | undefined;
  private readonly held = new Set<number>();
  private connecting: Promise<pg.PoolClient> | undefined;
  private closed = false;
  /** Keys held when the connection dropped, not taken again yet. */
  private readonly lost = new Set<number>();
  private reacquiring = false;
  /** The end of the queue of this connection's queries; never rejects. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: FastifyBaseLogger,
    private readonly options: SessionAdvisoryLocksOptions,
  ) {}

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
    // Releasing the connection with an error destroys it, which drops every lock at once.
    client?.release(true);
  }

  /** Run `query` once the queries queued before it have ended. */
  private serially<T>(query: () => Promise<T>): Promise<T> {
    const result = this.queue.then(query);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private connection(): Promise<pg.PoolClient> {
    if (this.closed) return Promise.reject(new Error(`${this.options.purpose} locks are closed`));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.pool
      .connect()
      .then(async (client) => {
        client.on('error', (err) => this.onConnectionLost(client, err));
        const idle = Math.max(1, Math.round(this.options.keepaliveIdleSeconds ?? 10));
        // Best effort: a server that refuses (e.g. a pooler in between) still gives working locks.
        await client
          .query(
            `set tcp_keepalives_idle = ${idle}; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3`,
          )
          .catch((err: unknown) =>
            this.logger.debug({ err }, 'cannot set TCP keepalives on the lock connection'),
          );
        this.client = client;
        return client;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /**
   * The database connection dropped and the locks with it: take them again for the work still running here.
   * One loop does it, however often the connection drops meanwhile (a restarting server cuts the first
   * reconnections too), so a key is never taken twice; work that ends meanwhile is not re-taken.
   */
  private onConnectionLost(client: pg.PoolClient, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.logger.warn({ err }, `lost the connection holding ${this.options.purpose} locks; re-acquiring`);
    this.client = undefined;
    client.release(true);
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
