import { sql, type Kysely } from 'kysely';

/**
 * `build_var_refs`: the NAMES (never the values) of the `((source:path))` vars a running build resolved
 * through its credential managers. A web node collecting the build's step pods after the node running it
 * died resolves them again to redact the rest of the output as that node did (apps/web/src/runtime/
 * recovery-redaction.ts) — names the stored plan does not show, such as those of a task config file.
 * `source` is '' for the cluster credential manager.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table build_var_refs (
      build_id integer not null references builds (id) on delete cascade,
      source text not null default '',
      path text not null,
      primary key (build_id, source, path)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table build_var_refs`.execute(db);
}
