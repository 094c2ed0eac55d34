// Garbage collection of check builds (Concourse's gc/check_collector.go with db/check_lifecycle.go): a
// finished check build that is no longer its resource's (or resource type's) latest check is deleted with its
// events. A minute
// of grace lets a `fly check-resource` still reading a just-finished check see all of it.
import { sql, type Database, type Kysely } from '@jetbridge/db';

export async function deleteCompletedCheckBuilds(
  db: Kysely<Database>,
  options: { graceSeconds?: number; batchSize?: number } = {},
): Promise<number> {
  const grace = options.graceSeconds ?? 60;
  const batch = options.batchSize ?? 500;
  let deleted = 0;
  for (;;) {
    const { rows } = await sql<{ id: number }>`
      delete from builds where id in (
        select b.id from builds b
        where (b.resource_id is not null or b.resource_type_id is not null)
          and b.status in ('succeeded', 'failed', 'errored', 'aborted')
          and b.end_time < now() - make_interval(secs => ${grace})
          and not exists (select 1 from resources r where r.last_check_build_id = b.id)
          and not exists (select 1 from resource_types t where t.last_check_build_id = b.id)
        limit ${batch})
      returning id`.execute(db);
    deleted += rows.length;
    if (rows.length < batch) return deleted;
  }
}
