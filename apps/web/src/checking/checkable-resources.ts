// Which resources the scanner considers (Concourse v8.2's checkFactory.Resources, atc/db/check_factory.go):
// resources of unpaused pipelines that are a `trigger: true` input without `passed` of some job; put-only
// or non-triggering resources that were never checked or whose last check failed; non-triggering inputs
// with no versions yet; and non-triggering resources whose pinned version no check has found yet. Whether
// each is due (its interval) is decided by the scanner.
import { sql, type Database, type Kysely } from '@jetbridge/db';

export interface CheckableResource {
  id: number;
  name: string;
  pipelineId: number;
  /** The resource's `check_every` (`never`, a Go duration, or null for the default). */
  checkEvery: string | null;
  hasWebhook: boolean;
  pinnedVersion: Record<string, string> | null;
  /** Of the resource's current scope; null when it was never checked. */
  nextCheckTime: Date | null;
}

export async function listCheckableResources(db: Kysely<Database>): Promise<CheckableResource[]> {
  const { rows } = await sql<{
    id: number;
    name: string;
    pipeline_id: number;
    check_every: string | null;
    webhook_token: string | null;
    pinned_version: Record<string, string> | null;
    next_check_time: Date | null;
  }>`
    select r.id, r.name, r.pipeline_id, r.check_every, r.webhook_token, r.pinned_version, s.next_check_time
    from resources r
    join pipelines p on p.id = r.pipeline_id
    left join resource_config_scopes s on s.id = r.resource_config_scope_id
    left join (
      select resource_id, bool_or(trigger) as trigger
      from job_inputs where passed_job_id is null group by resource_id
    ) ji on ji.resource_id = r.id
    where r.active and not p.paused and not p.archived
      and (
        ji.trigger
        or ((s.last_check_end_time is null or s.last_check_succeeded = false)
            and (ji.resource_id is null or not ji.trigger))
        or (not ji.trigger and not exists (
              select 1 from resource_config_versions v
              where v.resource_config_scope_id = r.resource_config_scope_id))
        or (not ji.trigger and r.pinned_version is not null and not exists (
              select 1 from resource_config_versions v
              where v.resource_config_scope_id = r.resource_config_scope_id
                and v.version @> r.pinned_version))
      )
    order by r.id`.execute(db);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    checkEvery: row.check_every,
    hasWebhook: row.webhook_token !== null && row.webhook_token !== '',
    pinnedVersion: row.pinned_version,
    nextCheckTime: row.next_check_time,
  }));
}
