// @jetbridge/db: the PostgreSQL schema, migrations, the embedded server, and queries.
export type * from './schema.js';
export { connectDatabase, waitForDatabase, type PostgresConnection, type DatabaseHandle } from './connect.js';
export { migrateToLatest, MigrationError } from './migrate.js';
export { migrations } from './migrations/index.js';
export {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from './embedded-postgres.js';
export { sql, type Kysely, type Transaction } from 'kysely';
