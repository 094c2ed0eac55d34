import { sql, type Kysely } from 'kysely';

/** Teams, users, tokens, settings, builds, build events and artifacts: what auth and one-off builds need. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('teams')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('auth', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('sub', 'text', (c) => c.notNull().unique())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('connector', 'text', (c) => c.notNull())
    .addColumn('last_login', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('token', 'text', (c) => c.primaryKey())
    .addColumn('sub', 'text', (c) => c.notNull())
    .addColumn('claims', 'jsonb', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('access_tokens_expires_at').on('access_tokens').column('expires_at').execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('builds')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('team_id', 'integer', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending','started','succeeded','failed','errored','aborted')`),
    )
    .addColumn('plan', 'jsonb')
    .addColumn('schema', 'text', (c) => c.notNull().defaultTo('exec.v2'))
    .addColumn('pipeline_id', 'integer')
    .addColumn('job_id', 'integer')
    .addColumn('created_by', 'text')
    .addColumn('comment', 'text')
    .addColumn('aborted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('rerun_of', 'integer', (c) => c.references('builds.id').onDelete('set null'))
    .addColumn('rerun_number', 'integer')
    .addColumn('tracked_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('start_time', 'timestamptz')
    .addColumn('end_time', 'timestamptz')
    .addColumn('reap_time', 'timestamptz')
    .execute();
  await db.schema.createIndex('builds_team_id').on('builds').column('team_id').execute();
  await db.schema.createIndex('builds_status').on('builds').column('status').execute();
  // One-off build names come from a global sequence, as in Concourse (not the build id).
  await sql`create sequence one_off_build_name`.execute(db);

  await db.schema
    .createTable('build_events')
    .addColumn('build_id', 'integer', (c) => c.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('event_id', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('build_events_pkey', ['build_id', 'event_id'])
    .execute();

  await db.schema
    .createTable('artifacts')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('volume_handle', 'text', (c) => c.notNull().unique())
    .addColumn('team_id', 'integer', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('build_id', 'integer', (c) => c.references('builds.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('artifacts_build_id').on('artifacts').column('build_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'artifacts',
    'build_events',
    'builds',
    'settings',
    'access_tokens',
    'users',
    'teams',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
  await sql`drop sequence if exists one_off_build_name`.execute(db);
}
