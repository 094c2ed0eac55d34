// `fly clear-versions` (Concourse's ClearResourceVersions / ClearResourceTypeVersions and their `shared`
// listings): a resource's versions live in its config scope, which other resources and resource types with the
// same config may share (global resources), so fly first lists who shares it, then the scope is emptied.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface SharedIdentifier {
  name: string;
  pipeline_name: string;
  team_name: string;
}

/** Who uses the scope (`atc.ResourcesAndTypes`); null lists where none, as Go encodes an empty slice. */
export async function listScopeSharers(
  db: Kysely<Database>,
  scopeId: number,
): Promise<{ resources: SharedIdentifier[] | null; resource_types: SharedIdentifier[] | null }> {
  const { rows: resources } = await sql<SharedIdentifier>`
    select r.name, p.name as pipeline_name, t.name as team_name
    from resources r join pipelines p on p.id = r.pipeline_id join teams t on t.id = p.team_id
    where r.resource_config_scope_id = ${scopeId} order by r.id`.execute(db);
  const { rows: types } = await sql<SharedIdentifier>`
    select rt.name, p.name as pipeline_name, t.name as team_name
    from resource_types rt join pipelines p on p.id = rt.pipeline_id join teams t on t.id = p.team_id
    join resource_config_scopes s on s.resource_config_id = rt.resource_config_id
    where s.id = ${scopeId} order by rt.id`.execute(db);
  return {
    resources: resources.length > 0 ? resources : null,
    resource_types: types.length > 0 ? types : null,
  };
}

/** Delete every version of the scope; how many went. */
export async function clearScopeVersions(db: Kysely<Database>, scopeId: number): Promise<number> {
  const result = await db
    .deleteFrom('resource_config_versions')
    .where('resource_config_scope_id', '=', scopeId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The resource type's scope, if it was ever checked; undefined when no such active type. */
export async function findResourceTypeScope(
  db: Kysely<Database>,
  pipelineId: number,
  name: string,
): Promise<{ id: number; scopeId: number | null } | undefined> {
  if (name.includes('\0')) return undefined;
  const row = await db
    .selectFrom('resource_types')
    .select(['id', 'resource_config_scope_id'])
    .where('pipeline_id', '=', pipelineId)
    .where('name', '=', name)
    .where('active', '=', true)
    .executeTakeFirst();
  return row === undefined ? undefined : { id: row.id, scopeId: row.resource_config_scope_id };
}
