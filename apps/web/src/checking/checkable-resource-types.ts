// Which pipeline resource types the scanner checks, and when. Concourse keeps a type's versions current by
// checking it (its image resource) while checking a resource of that type, at most once per the type's
// `check_every` or `--resource-type-checking-interval` (atc/db/check_factory.go, atc/exec/check_step.go).
// JetBridge resolves a type's image without those nested checks, so the scanner checks the types itself, on
// the same terms: types of unpaused, unarchived pipelines that a resource checked there uses (directly or
// through other types), when no check of the type is under way and its last check ended an interval ago.
import { sql, type Database, type Kysely } from '@jetbridge/db';
import { parseGoDuration } from '@jetbridge/plan';

export interface CheckableResourceType {
  id: number;
  name: string;
  /** The type this one builds on (another of the pipeline's types, or a base type). */
  type: string;
  pipelineId: number;
  /** The type's `check_every` (`never`, a Go duration, or null for the default). */
  checkEvery: string | null;
  /** When its last check ended: of its scope's last check, or its last check build, the later. */
  lastCheckEnd: Date | null;
  /** Its last check build is running, or pending since less than a minute. */
  checkUnderway: boolean;
}

interface CheckedResource {
  pipelineId: number;
  type: string;
}

/** The active types of unpaused, unarchived pipelines (or just `onlyId`), with their last check. */
export async function listCheckableResourceTypes(
  db: Kysely<Database>,
  onlyId?: number,
): Promise<CheckableResourceType[]> {
  const { rows } = await sql<{
    id: number;
    name: string;
    type: string;
    pipeline_id: number;
    check_every: string | null;
    last_check_end: Date | null;
    check_underway: boolean;
  }>`
    select rt.id, rt.name, rt.type, rt.pipeline_id, rt.config ->> 'check_every' as check_every,
      greatest(s.last_check_end_time, b.end_time) as last_check_end,
      -- A pending build its node never started (it stopped) holds the type back for a minute at most.
      coalesce(b.status = 'started' or (b.status = 'pending' and b.created_at > now() - interval '1 minute'),
        false) as check_underway
    from resource_types rt
    join pipelines p on p.id = rt.pipeline_id
    left join resource_config_scopes s on s.id = rt.resource_config_scope_id
    left join builds b on b.id = rt.last_check_build_id
    where rt.active and not p.paused and not p.archived
      and (${onlyId ?? null}::int is null or rt.id = ${onlyId ?? null}::int)
    order by rt.id`.execute(db);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    type: row.type,
    pipelineId: row.pipeline_id,
    checkEvery: row.check_every === '' ? null : row.check_every,
    lastCheckEnd: row.last_check_end,
    checkUnderway: row.check_underway,
  }));
}

/** The types of the resources the scanner checks: active, of unpaused and unarchived pipelines, not `never`. */
async function listCheckedResources(db: Kysely<Database>): Promise<CheckedResource[]> {
  const { rows } = await sql<{ pipeline_id: number; type: string }>`
    select distinct r.pipeline_id, r.type
    from resources r
    join pipelines p on p.id = r.pipeline_id
    where r.active and not p.paused and not p.archived
      and r.check_every is distinct from 'never'`.execute(db);
  return rows.map((row) => ({ pipelineId: row.pipeline_id, type: row.type }));
}

/** The types a checked resource uses, directly or as the type its type builds on, and so on. */
export function typesInUse(
  types: readonly CheckableResourceType[],
  resources: readonly CheckedResource[],
): CheckableResourceType[] {
  const byPipeline = new Map<number, Map<string, CheckableResourceType>>();
  for (const type of types) {
    const named = byPipeline.get(type.pipelineId) ?? new Map<string, CheckableResourceType>();
    named.set(type.name, type);
    byPipeline.set(type.pipelineId, named);
  }
  const used = new Set<number>();
  for (const resource of resources) {
    const named = byPipeline.get(resource.pipelineId);
    let next = named?.get(resource.type);
    while (next !== undefined && !used.has(next.id)) {
      used.add(next.id);
      // Inside a type's own definition, its `type:` names the type it builds on, never itself.
      next = next.type === next.name ? undefined : named?.get(next.type);
    }
  }
  return types.filter((type) => used.has(type.id));
}

/** The type's interval in ms: its `check_every`, else the default; undefined for `never`. */
export function typeCheckIntervalMs(
  type: CheckableResourceType,
  defaultIntervalMs: number,
): number | undefined {
  if (type.checkEvery === 'never') return undefined;
  if (type.checkEvery === null) return defaultIntervalMs;
  try {
    return parseGoDuration(type.checkEvery);
  } catch {
    return defaultIntervalMs;
  }
}

/** Not being checked, and its last check (if any) ended at least an interval before `now`. */
export function isTypeDue(type: CheckableResourceType, defaultIntervalMs: number, now: number): boolean {
  const intervalMs = typeCheckIntervalMs(type, defaultIntervalMs);
  if (intervalMs === undefined || type.checkUnderway) return false;
  return type.lastCheckEnd === null || type.lastCheckEnd.getTime() + intervalMs <= now;
}

/** The types in use that are due for a check now. */
export async function listDueResourceTypes(
  db: Kysely<Database>,
  defaultIntervalMs: number,
): Promise<CheckableResourceType[]> {
  const [types, resources] = await Promise.all([listCheckableResourceTypes(db), listCheckedResources(db)]);
  const now = Date.now();
  return typesInUse(types, resources).filter((type) => isTypeDue(type, defaultIntervalMs, now));
}
