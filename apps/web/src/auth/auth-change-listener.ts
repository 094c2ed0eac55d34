// Cross-node invalidation of the auth caches through PostgreSQL LISTEN/NOTIFY (Concourse's notification bus
// and its `team_cache` channel): a web node that changes a team or revokes a token notifies, every node
// (itself included) drops what it cached. Notifications are only delivered to a listening connection, so
// while this node is not listening its caches must not be trusted: `isListening` says so, and every change
// of that state resets them.
import { sql, type Database, type Kysely } from '@jetbridge/db';
import pg from 'pg';

/** Teams were created, changed, renamed or destroyed (no payload: the whole list is reloaded). */
export const TEAMS_CHANNEL = 'jetbridge_teams';
/** An access token was revoked; the payload is its digest (`tokenDigest`), never the token. */
export const TOKENS_CHANNEL = 'jetbridge_access_tokens';
/** The listening connection's `application_name`, to tell it apart in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = 'jetbridge-auth-listener';

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

export interface AuthChangeHandlers {
  teamsChanged(): void;
  tokenRevoked(digest: string): void;
  /** Listening started or stopped: whatever was cached may have missed notifications. */
  reset(): void;
}

export interface ListenerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Tell every web node (this one included) that the teams changed. Call after the change committed. */
export async function notifyTeamsChanged(db: Kysely<Database>): Promise<void> {
  await sql`select pg_notify(${TEAMS_CHANNEL}, '')`.execute(db);
}

/** Tell every web node that the token with this digest was revoked. */
export async function notifyTokenRevoked(db: Kysely<Database>, digest: string): Promise<void> {
  await sql`select pg_notify(${TOKENS_CHANNEL}, ${digest})`.execute(db);
}

/**
 * One dedicated connection (outside the pool: it must stay checked out) that LISTENs on both channels and
 * reconnects with backoff when it is lost.
 */
export class AuthChangeListener {
  #client: pg.Client | undefined;
  #listening = false;
  #stopped = false;
  #retryMs = RECONNECT_MIN_MS;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly handlers: AuthChangeHandlers,
    private readonly logger: ListenerLogger,
  ) {}

  /** True while notifications are being received: only then may cached auth data be served. */
  get isListening(): boolean {
    return this.#listening;
  }

  /** Connect and listen; resolves once listening or after the first failure (retries continue). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#setListening(false);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ ...this.connection, application_name: LISTENER_APPLICATION_NAME });
    this.#client = client;
    client.on('notification', (message) => {
      if (message.channel === TEAMS_CHANNEL) this.handlers.teamsChanged();
      else if (message.channel === TOKENS_CHANNEL && message.payload)
        this.handlers.tokenRevoked(message.payload);
    });
    // Errors and the end of the connection both mean notifications may be missed from now on.
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${TEAMS_CHANNEL}`);
      await client.query(`LISTEN ${TOKENS_CHANNEL}`);
    } catch (err) {
      this.#lost(client, err);
      return;
    }
    if (this.#client !== client || this.#stopped) return;
    this.#retryMs = RECONNECT_MIN_MS;
    this.#setListening(true);
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#setListening(false);
    client.end().catch(() => undefined);
    if (this.#stopped) return;
    this.logger.warn(
      { err, retryInMs: this.#retryMs },
      'auth change listener lost its connection; auth caches off until it is back',
    );
    this.#retryTimer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  #setListening(listening: boolean): void {
    if (this.#listening === listening && !listening) return;
    this.#listening = listening;
    // Both ways: entries cached before listening began may predate changes nobody told us about.
    this.handlers.reset();
    if (listening) this.logger.info({}, 'listening for team and token changes');
  }
}
