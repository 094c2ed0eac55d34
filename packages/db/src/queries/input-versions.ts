// What the scheduler's input resolution reads (Concourse's atc/db/versions_db.go and job.AlgorithmInputs):
// a job's inputs as the algorithm sees them, latest/every/pinned versions of a resource, first occurrences,
// and the succeeded builds of `passed` jobs, walked a page at a time in the algorithm's order.
//
// Versions are named by their sha256 within the resource's *current* scope: a version recorded by an old
// build under a scope the resource no longer points at does not exist for the algorithm.
//
// Performance: every query here starts from an index and stops early. Version lists are walked newest first
// on (scope, check_order desc); a passed job's builds on (job_id, coalesce(rerun_of, id), id) where succeeded
// (migration 0003); "which builds used version v" on (resource_id, version_sha256) of the build inputs and
// outputs; "which versions did build b use" on their primary keys (build_id, resource_id, …).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, Json, VersionJson } from '../schema.js';

/** One input of a job as the algorithm resolves it (Concourse's `db.InputConfig`). */
export interface AlgorithmInputConfig {
  name: string;
  jobId: number;
  resourceId: number;
  /** The resource's current scope; null until it was first checked (it then has no versions). */
  scopeId: number | null;
  /** Upstream job ids from `passed`, ascending (the order the algorithm tries them in). */
  passed: number[];
  trigger: boolean;
  /** `version: every`. */
  useEvery: boolean;
  /** The get step's `version: {…}`, else the resource's pin (config or API), else null. */
  pinnedVersion: VersionJson | null;
}

function isVersionMap(value: Json | null): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

/** A job's inputs for the algorithm, by input name (`job.AlgorithmInputs`). */
export async function listAlgorithmInputs(
  db: Kysely<Database>,
  jobId: number,
): Promise<AlgorithmInputConfig[]> {
  const { rows } = await sql<{
    name: string;
    resource_id: number;
    scope_id: number | null;
    passed: number[] | null;
    trigger: boolean;
    version: Json | null;
    pinned_version: VersionJson | null;
  }>`
    select ji.name, ji.resource_id, r.resource_config_scope_id as scope_id,
      array_remove(array_agg(ji.passed_job_id order by ji.passed_job_id), null) as passed,
      bool_or(ji.trigger) as trigger, ji.version, r.pinned_version
    from job_inputs ji
    join resources r on r.id = ji.resource_id
    where ji.job_id = ${jobId}
    group by ji.name, ji.resource_id, r.resource_config_scope_id, ji.version, r.pinned_version
    order by ji.name`.execute(db);
  return rows.map((row) => {
    const stepPin = isVersionMap(row.version) && Object.keys(row.version).length > 0 ? row.version : null;
    return {
      name: row.name,
      jobId,
      resourceId: row.resource_id,
      scopeId: row.scope_id,
      passed: row.passed ?? [],
      trigger: row.trigger,
      useEvery: row.version === 'every',
      pinnedVersion: stepPin ?? row.pinned_version ?? null,
    };
  });
}

const notDisabled = (resourceId: number, sha: RawBuilder<unknown>) => sql<boolean>`not exists (
  select 1 from resource_disabled_versions d where d.resource_id = ${resourceId} and d.version_sha256 = ${sha})`;

/** The newest version of the resource's scope that is not disabled for it (`LatestVersionOfResource`). */
export async function findLatestVersion(
  db: Kysely<Database>,
  resourceId: number,
  scopeId: number,
): Promise<string | undefined> {
  const { rows } = await sql<{ sha: string }>`
    select v.version_sha256 as sha from resource_config_versions v
    where v.resource_config_scope_id = ${scopeId} and ${notDisabled(resourceId, sql`v.version_sha256`)}
    order by v.check_order desc limit 1`.execute(db);
  return rows[0]?.sha;
}

/**
 * A version of the scope whose JSON contains `pin` (`FindVersionOfResource`: a partial pin matches); the
 * newest when several do. Disabled versions count, as in Concourse.
 */
export async function findPinnedVersion(
  db: Kysely<Database>,
  scopeId: number,
  pin: VersionJson,
): Promise<string | undefined> {
  const { rows } = await sql<{ sha: string }>`
    select v.version_sha256 as sha from resource_config_versions v
    where v.resource_config_scope_id = ${scopeId} and v.version @> ${JSON.stringify(pin)}::jsonb
    order by v.check_order desc limit 1`.execute(db);
  return rows[0]?.sha;
}

/**
 * `version: every` without `passed` (`NextEveryVersion`): the latest version if the job never used the
 * resource; else the first enabled version after the newest one it used (`hasNext` when yet another follows),
 * or, when none is newer, the newest enabled one at or below it (the same one again).
 */
export async function findNextEveryVersion(
  db: Kysely<Database>,
  jobId: number,
  resourceId: number,
  scopeId: number,
): Promise<{ sha: string; hasNext: boolean } | undefined> {
  const used = await newestUsedCheckOrder(db, jobId, resourceId, scopeId);
  if (used === undefined) {
    const latest = await findLatestVersion(db, resourceId, scopeId);
    return latest === undefined ? undefined : { sha: latest, hasNext: false };
  }
  const { rows: newer } = await sql<{ sha: string }>`
    select v.version_sha256 as sha from resource_config_versions v
    where v.resource_config_scope_id = ${scopeId} and v.check_order > ${used}
      and ${notDisabled(resourceId, sql`v.version_sha256`)}
    order by v.check_order asc limit 2`.execute(db);
  const next = newer[0];
  if (next) return { sha: next.sha, hasNext: newer.length > 1 };
  const { rows: same } = await sql<{ sha: string }>`
    select v.version_sha256 as sha from resource_config_versions v
    where v.resource_config_scope_id = ${scopeId} and v.check_order <= ${used}
      and ${notDisabled(resourceId, sql`v.version_sha256`)}
    order by v.check_order desc limit 1`.execute(db);
  return same[0] ? { sha: same[0].sha, hasNext: false } : undefined;
}

/** Walked newest first: the job usually used a recent version, so the scan stops early. */
async function newestUsedCheckOrder(
  db: Kysely<Database>,
  jobId: number,
  resourceId: number,
  scopeId: number,
): Promise<number | undefined> {
  const { rows } = await sql<{ check_order: number }>`
    select v.check_order from resource_config_versions v
    where v.resource_config_scope_id = ${scopeId}
      and exists (
        select 1 from build_resource_config_version_inputs i join builds b on b.id = i.build_id
        where i.resource_id = ${resourceId} and i.version_sha256 = v.version_sha256 and b.job_id = ${jobId})
    order by v.check_order desc limit 1`.execute(db);
  return rows[0] === undefined ? undefined : Number(rows[0].check_order);
}

/** Where a job's builds stand in the algorithm's walking order: reruns sit at their original's position. */
export interface BuildCursor {
  id: number;
  rerunOf: number | null;
}

/**
 * For `version: every` with `passed` (`LatestBuildUsingLatestVersion` + `LatestBuildPipes`): the upstream
 * builds (per upstream job) that vouched for the newest build of this job that used the newest version of the
 * resource it ever used. Empty when the job never used the resource.
 */
export async function findLastUsedPassedBuilds(
  db: Kysely<Database>,
  jobId: number,
  resourceId: number,
  scopeId: number,
): Promise<Map<number, BuildCursor>> {
  const { rows } = await sql<{ job_id: number; id: number; rerun_of: number | null }>`
    with newest_used as (
      select v.version_sha256 from resource_config_versions v
      where v.resource_config_scope_id = ${scopeId}
        and exists (
          select 1 from build_resource_config_version_inputs i join builds b on b.id = i.build_id
          where i.resource_id = ${resourceId} and i.version_sha256 = v.version_sha256 and b.job_id = ${jobId})
      order by v.check_order desc limit 1
    ), last_build as (
      select max(i.build_id) as id
      from build_resource_config_version_inputs i
      join builds b on b.id = i.build_id
      join newest_used u on u.version_sha256 = i.version_sha256
      where i.resource_id = ${resourceId} and b.job_id = ${jobId}
    )
    select fb.job_id, fb.id, fb.rerun_of
    from build_pipes p join builds fb on fb.id = p.from_build_id
    where p.to_build_id = (select id from last_build) and fb.job_id is not null`.execute(db);
  return new Map(rows.map((row) => [row.job_id, { id: row.id, rerunOf: row.rerun_of }]));
}

/**
 * Which of the chosen (input, version) pairs no build of the job ever used under that input name, whatever
 * the build's status (`IsFirstOccurrence`). Returns the input names that are first occurrences.
 */
export async function findFirstOccurrences(
  db: Kysely<Database>,
  jobId: number,
  chosen: ReadonlyArray<{ name: string; resourceId: number; versionSha256: string }>,
): Promise<Set<string>> {
  if (chosen.length === 0) return new Set();
  const values = sql.join(
    chosen.map((c) => sql`(${c.name}::text, ${c.resourceId}::integer, ${c.versionSha256}::text)`),
  );
  const { rows } = await sql<{ name: string }>`
    select c.name from (values ${values}) as c(name, resource_id, sha)
    where not exists (
      select 1 from build_resource_config_version_inputs i join builds b on b.id = i.build_id
      where i.resource_id = c.resource_id and i.version_sha256 = c.sha and i.name = c.name
        and b.job_id = ${jobId})`.execute(db);
  return new Set(rows.map((row) => row.name));
}

// ---------------------------------------------------------------------------------------------------------
// Walking a passed job's succeeded builds

/**
 * A version a walked build must yield for one input related to the walked job. With `chosenSha` the build
 * must contain that version (an earlier choice); without, the build's own version of the resource is taken:
 * its put output before its get input, the newest first, skipping versions that are disabled, absent from the
 * resource's current scope, or other than the pin.
 */
export interface PassedBuildSlot {
  resourceId: number;
  scopeId: number | null;
  pinnedSha: string | null;
  chosenSha: string | null;
}

/** A slot's value, or a fixed version, of one resource. */
export type CompanionValue = { slot: number } | { sha: string };

/**
 * Some succeeded build of another passed job must contain all these versions together (`driver` first: a
 * fixed version or the required slot, so the lookup starts from the version index). Entries whose slot is
 * empty for a walked build are skipped. This only prunes walked builds that could never lead to a solution.
 */
export interface CompanionRequirement {
  jobId: number;
  driver: { resourceId: number; value: CompanionValue };
  others: Array<{ resourceId: number; value: CompanionValue }>;
}

export interface PassedBuildsQuery {
  jobId: number;
  slots: readonly PassedBuildSlot[];
  /** The slot of the input being resolved: walked builds must fill it. */
  requiredSlot: number;
  companions: readonly CompanionRequirement[];
  /** Walking direction in `coalesce(rerun_of, id), id` order. */
  direction: 'newest-first' | 'oldest-first';
  /** Only builds strictly past this one in the walking direction. */
  after?: BuildCursor;
  /** Only builds at or before this one in the newest-first order (`every`: the last used and older). */
  atOrOlderThan?: BuildCursor;
  limit: number;
}

export interface WalkedBuild {
  id: number;
  rerunOf: number | null;
  /** Per slot: the version it yields, null when the build yields none. */
  shas: Array<string | null>;
}

/** A build contains version `sha` of `resourceId` as a put output or a get input (`successful_build_outputs`). */
function buildContains(buildRef: RawBuilder<unknown>, resourceId: number, sha: RawBuilder<unknown>) {
  return sql<boolean>`(exists (select 1 from build_resource_config_version_outputs o
      where o.build_id = ${buildRef} and o.resource_id = ${resourceId} and o.version_sha256 = ${sha})
    or exists (select 1 from build_resource_config_version_inputs i
      where i.build_id = ${buildRef} and i.resource_id = ${resourceId} and i.version_sha256 = ${sha}))`;
}

/**
 * Builds containing version `sha` of the resource, from the (resource_id, version_sha256) indexes; `distinct`
 * when each build must come once (as rows to walk), not when only existence matters.
 */
function buildsContaining(resourceId: number, sha: RawBuilder<unknown>, distinct: boolean) {
  return sql`(select o.build_id from build_resource_config_version_outputs o
      where o.resource_id = ${resourceId} and o.version_sha256 = ${sha}
    ${distinct ? sql`union` : sql`union all`}
    select i.build_id from build_resource_config_version_inputs i
      where i.resource_id = ${resourceId} and i.version_sha256 = ${sha})`;
}

function cursorKey(cursor: BuildCursor) {
  return sql`(${cursor.rerunOf ?? cursor.id}::integer, ${cursor.id}::integer)`;
}

/**
 * One page of a passed job's succeeded builds in the algorithm's order (`SuccessfulBuilds`,
 * `SuccessfulBuildsVersionConstrained`, `UnusedBuilds`), with the version each yields per slot. Builds that
 * miss a chosen version, cannot fill the required slot, or fail a companion requirement are left out in SQL,
 * so the caller rarely looks at more than one or two builds. A query with a chosen version starts from the
 * builds containing it; one without walks the job's builds on the ordering index and stops at `limit`.
 */
export async function listPassedBuilds(
  db: Kysely<Database>,
  query: PassedBuildsQuery,
): Promise<WalkedBuild[]> {
  const slotColumn = (index: number) => sql.ref(`s${index}.sha`);
  const valueOf = (value: CompanionValue): RawBuilder<unknown> =>
    'slot' in value ? sql`${slotColumn(value.slot)}` : sql`${value.sha}::text`;
  const isNullable = (value: CompanionValue) => 'slot' in value && value.slot !== query.requiredSlot;

  const laterals = query.slots.map((slot, index) => {
    const alias = sql.table(`s${index}`);
    if (slot.chosenSha !== null) {
      return sql`cross join lateral (select ${slot.chosenSha}::text as sha) ${alias}`;
    }
    if (slot.scopeId === null) return sql`cross join lateral (select null::text as sha) ${alias}`;
    const pin = slot.pinnedSha === null ? sql`` : sql`and bv.sha = ${slot.pinnedSha}`;
    return sql`left join lateral (
      select bv.sha from (
        select o.version_sha256 as sha, 0 as preference from build_resource_config_version_outputs o
          where o.build_id = b.id and o.resource_id = ${slot.resourceId}
        union all
        select i.version_sha256, 1 from build_resource_config_version_inputs i
          where i.build_id = b.id and i.resource_id = ${slot.resourceId}
      ) bv
      join resource_config_versions v
        on v.resource_config_scope_id = ${slot.scopeId} and v.version_sha256 = bv.sha
      where ${notDisabled(slot.resourceId, sql`bv.sha`)} ${pin}
      order by bv.preference, v.check_order desc limit 1
    ) ${alias} on true`;
  });

  const conditions: Array<RawBuilder<unknown>> = [
    sql`b.job_id = ${query.jobId}`,
    sql`b.status = 'succeeded'`,
    sql`${slotColumn(query.requiredSlot)} is not null`,
  ];
  const chosen = query.slots.flatMap((slot) =>
    slot.chosenSha === null ? [] : [{ resourceId: slot.resourceId, sha: slot.chosenSha }],
  );
  for (const { resourceId, sha } of chosen.slice(1)) {
    conditions.push(buildContains(sql`b.id`, resourceId, sql`${sha}::text`));
  }
  const companionCondition = (companion: CompanionRequirement) => {
    const inner = companion.others.map(({ resourceId, value }) => {
      const contains = buildContains(sql`q.id`, resourceId, valueOf(value));
      return isNullable(value) ? sql`(${valueOf(value)} is null or ${contains})` : contains;
    });
    return sql<boolean>`exists (
      select 1 from ${buildsContaining(companion.driver.resourceId, valueOf(companion.driver.value), false)} d
      join builds q on q.id = d.build_id
      where q.job_id = ${companion.jobId} and q.status = 'succeeded'
        ${inner.length > 0 ? sql`and ${sql.join(inner, sql` and `)}` : sql``})`;
  };
  // The same requirement on the required slot alone is checked first, right after that slot's version is
  // known: most walked builds fail it, and are dropped before the other slots are even looked up.
  const requiredOnly = (value: CompanionValue) => 'sha' in value || value.slot === query.requiredSlot;
  for (const companion of query.companions) {
    const reduced = { ...companion, others: companion.others.filter((other) => requiredOnly(other.value)) };
    if (requiredOnly(companion.driver.value) && reduced.others.length < companion.others.length) {
      conditions.push(companionCondition(reduced));
    }
    conditions.push(companionCondition(companion));
  }
  const order = sql`coalesce(b.rerun_of, b.id)`;
  if (query.after) {
    conditions.push(
      query.direction === 'newest-first'
        ? sql`(${order}, b.id) < ${cursorKey(query.after)}`
        : sql`(${order}, b.id) > ${cursorKey(query.after)}`,
    );
  }
  if (query.atOrOlderThan) conditions.push(sql`(${order}, b.id) <= ${cursorKey(query.atOrOlderThan)}`);

  const first = chosen[0];
  const from =
    first === undefined
      ? sql`builds b`
      : sql`${buildsContaining(first.resourceId, sql`${first.sha}::text`, true)} k join builds b on b.id = k.build_id`;
  const direction = query.direction === 'newest-first' ? sql`desc` : sql`asc`;
  const shaColumns = query.slots.map((_, index) => sql`${slotColumn(index)} as ${sql.ref(`sha${index}`)}`);

  // The required slot's lateral goes first, so conditions on it alone prune walked builds early.
  const orderedLaterals = [
    laterals[query.requiredSlot],
    ...laterals.filter((_, index) => index !== query.requiredSlot),
  ].flatMap((lateral) => (lateral === undefined ? [] : [lateral]));
  const { rows } = await sql<Record<string, string | number | null>>`
    select b.id, b.rerun_of, ${sql.join(shaColumns)}
    from ${from}
    ${sql.join(orderedLaterals, sql` `)}
    where ${sql.join(conditions, sql` and `)}
    order by ${order} ${direction}, b.id ${direction}
    limit ${query.limit}`.execute(db);
  return rows.map((row) => ({
    id: Number(row['id']),
    rerunOf: row['rerun_of'] === null ? null : Number(row['rerun_of']),
    shas: query.slots.map((_, index) => {
      const sha = row[`sha${index}`];
      return typeof sha === 'string' ? sha : null;
    }),
  }));
}
