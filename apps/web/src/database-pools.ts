// The web node's two PostgreSQL pools, as Concourse's web has them (`--api-max-conns`, `--backend-max-conns`):
// the HTTP API's handlers take connections from one, the scheduler, build tracking, checking and GC from the
// other, so a busy backend (hundreds of builds and checks) cannot leave fly and the UI waiting for a
// connection. Both reach the same database; `application_name` tells their connections apart in
// `pg_stat_activity`.
import { connectDatabase, type DatabaseHandle, type PostgresConnection } from '@jetbridge/db';

/** `application_name` of the API pool's connections. */
export const API_POOL_APPLICATION_NAME = 'jetbridge-api';
/** `application_name` of the backend pool's connections. */
export const BACKEND_POOL_APPLICATION_NAME = 'jetbridge-backend';

/**
 * Connections a node holds for as long as it runs beside its pools, for its session advisory locks
 * (SessionAdvisoryLocks opens one of its own, `jetbridge-locks`, per kind): build tracking, resource
 * checking, and step recovery on Kubernetes — 3. Concourse, too, opens its lock connections beside its two
 * pools, so neither pool's size counts them; PostgreSQL's `max_connections` must (here and in the chart's
 * bundled PostgreSQL).
 */
export const LOCK_CONNECTIONS = 3;
/**
 * Other connections a node opens besides its pools: the auth listener's LISTEN session, the short-lived ones
 * Kysely opens to cancel a query, and room for an operator's psql.
 */
const CONNECTIONS_BESIDE_POOLS = 20;
/** PostgreSQL's own default `max_connections`, kept as the embedded server's floor. */
const POSTGRES_DEFAULT_MAX_CONNECTIONS = 100;

export interface PoolSizes {
  apiMaxConnections: number;
  backendMaxConnections: number;
}

export interface DatabasePools {
  /** The HTTP API's and auth's pool (`--api-max-conns`). */
  api: DatabaseHandle;
  /**
   * Everything else's pool: builds, checks, scheduling, GC, recovery — `--backend-max-conns` connections, all
   * for that work (the locks have their own, LOCK_CONNECTIONS).
   */
  backend: DatabaseHandle;
  close(): Promise<void>;
}

/** Open both pools against `connection` (nothing connects until the first query). */
export function openDatabasePools(
  connection: PostgresConnection,
  sizes: PoolSizes,
  onIdleError: (pool: 'api' | 'backend', err: Error) => void,
): DatabasePools {
  // Connections cut while the pools close (an embedded PostgreSQL stopping right after) are no news.
  let closing = false;
  const idleError = (pool: 'api' | 'backend') => (err: Error) => {
    if (!closing) onIdleError(pool, err);
  };
  const api = connectDatabase(
    { ...connection, maxConnections: sizes.apiMaxConnections, applicationName: API_POOL_APPLICATION_NAME },
    idleError('api'),
  );
  const backend = connectDatabase(
    {
      ...connection,
      maxConnections: sizes.backendMaxConnections,
      applicationName: BACKEND_POOL_APPLICATION_NAME,
    },
    idleError('backend'),
  );
  return {
    api,
    backend,
    close: async () => {
      closing = true;
      await Promise.all([api.close(), backend.close()]);
    },
  };
}

/**
 * `max_connections` for the embedded PostgreSQL: both pools full, plus the connections beside them (the lock
 * connections and the rest).
 */
export function embeddedPostgresMaxConnections(sizes: PoolSizes): number {
  return Math.max(
    POSTGRES_DEFAULT_MAX_CONNECTIONS,
    sizes.apiMaxConnections + sizes.backendMaxConnections + LOCK_CONNECTIONS + CONNECTIONS_BESIDE_POOLS,
  );
}
