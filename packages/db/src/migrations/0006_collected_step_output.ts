import { sql, type Kysely } from 'kysely';

/**
 * `build_step_results.collected`: a resource step's script (`in`, `out`, `check`) that ended while no web node
 * watched it, as a node collected it from its pod after a restart — `{"exit_status": N, "stdout": "…"}`, the
 * script's JSON response. The node resuming the build hands it to the step instead of running the script
 * again, so the step does with it what it would have done (decode the version, record it, emit its finish
 * event). Null for every other row. Never a secret: a response holds a version and metadata (public in
 * Concourse's UI); the row goes with the build once it is finished.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table build_step_results add column collected jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table build_step_results drop column collected`.execute(db);
}
