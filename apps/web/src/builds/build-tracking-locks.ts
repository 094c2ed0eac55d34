// Which builds have a live tracker: the node running a build holds a PostgreSQL session advisory lock on
// it, on a connection of its own. A node that dies loses its connection and so its locks, which is how
// another node (or this one after a restart) tells an orphaned build from one running elsewhere. Concourse
// does the same with its tracking lock (`build.AcquireTrackingLock`).
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';

/** First key of the two-key advisory lock space: "JB" + tracking, so other users of the database don't collide. */
const TRACKING_LOCK_CLASS = 0x4a42_0001;

export class BuildTrackingLocks {
  private client: pg.PoolClient | undefined;
  private readonly held = new Set<number>();
  private connecting: Promise<pg.PoolClient> | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /**
   * Take the lock of `buildId` unless someone holds it, this node included (session locks are re-entrant,
   * so that is checked here). True when this node now tracks the build.
   */
  async tryAcquire(buildId: number): Promise<boolean> {
    if (this.held.has(buildId)) return false;
    this.held.add(buildId);
    try {
      const client = await this.connection();
      const { rows } = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1, $2) as locked',
        [TRACKING_LOCK_CLASS, buildId],
      );
      if (rows[0]?.locked === true) return true;
    } catch (err) {
      this.held.delete(buildId);
      throw err;
    }
    this.held.delete(buildId);
    return false;
  }

  async release(buildId: number): Promise<void> {
    if (!this.held.delete(buildId) || !this.client) return;
    try {
      await this.client.query('select pg_advisory_unlock($1, $2)', [TRACKING_LOCK_CLASS, buildId]);
    } catch (err) {
      this.logger.warn({ err, buildId }, 'failed to release build tracking lock');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.held.clear();
    // Releasing the connection with an error destroys it, which drops every lock at once.
    client?.release(true);
  }

  private connection(): Promise<pg.PoolClient> {
    if (this.closed) return Promise.reject(new Error('build tracking locks are closed'));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.pool
      .connect()
      .then((client) => {
        client.on('error', (err) => this.onConnectionLost(client, err));
        this.client = client;
        return client;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** The database connection dropped and the locks with it: take them again for the builds still running here. */
  private onConnectionLost(client: pg.PoolClient, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.logger.warn({ err }, 'lost the connection holding build tracking locks; re-acquiring');
    this.client = undefined;
    client.release(true);
    const builds = [...this.held];
    this.held.clear();
    void (async () => {
      for (let attempt = 1; !this.closed && builds.length > 0; attempt++) {
        try {
          while (builds.length > 0) {
            const buildId = builds[0] as number;
            if (!(await this.tryAcquire(buildId))) {
              this.logger.error(
                { buildId },
                'another node took over the tracking lock of a build running here',
              );
            }
            builds.shift();
          }
        } catch (retryErr) {
          this.logger.warn({ err: retryErr, attempt }, 'cannot re-acquire build tracking locks yet');
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    })();
  }
}
