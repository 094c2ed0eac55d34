// Check builds of a pipeline's resource types (`fly check-resource-type`, Concourse's CheckResourceType): the
// type's own `type` and `source` are checked like a resource, and its versions live in its config scope.
import { type Kysely } from 'kysely';
import type { Database, Json } from '../schema.js';
import { findPipelineBuild, type PipelineBuildRecord } from './pipeline-builds.js';

export interface CheckableResourceType {
  id: number;
  name: string;
  pipelineId: number;
  pipelineName: string;
  pipelineInstanceVars: Record<string, Json> | null;
  teamId: number;
  teamName: string;
  resourceConfigScopeId: number | null;
}

export async function findCheckableResourceType(
  db: Kysely<Database>,
  id: number,
): Promise<CheckableResourceType | undefined> {
  const row = await db
    .selectFrom('resource_types as rt')
    .innerJoin('pipelines as p', 'p.id', 'rt.pipeline_id')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .select([
      'rt.id',
      'rt.name',
      'rt.pipeline_id',
      'rt.resource_config_scope_id',
      'p.name as pipeline_name',
      'p.instance_vars',
      't.id as team_id',
      't.name as team_name',
    ])
    .where('rt.id', '=', id)
    .where('rt.active', '=', true)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    pipelineName: row.pipeline_name,
    pipelineInstanceVars: (row.instance_vars ?? null) as Record<string, Json> | null,
    teamId: row.team_id,
    teamName: row.team_name,
    resourceConfigScopeId: row.resource_config_scope_id,
  };
}

/**
 * A pending check build of the resource type (run by the checker); it becomes the type's last check.
 * `manuallyTriggered` is false for the checker's periodic checks (true by default: `fly check-resource-type`).
 */
export async function createResourceTypeCheckBuild(
  db: Kysely<Database>,
  resourceTypeId: number,
  options: { createdBy: string | null; manuallyTriggered?: boolean },
): Promise<PipelineBuildRecord | undefined> {
  const id = await db.transaction().execute(async (tx) => {
    const type = await tx
      .selectFrom('resource_types as rt')
      .innerJoin('pipelines as p', 'p.id', 'rt.pipeline_id')
      .select(['rt.id', 'rt.pipeline_id', 'p.team_id'])
      .where('rt.id', '=', resourceTypeId)
      .executeTakeFirst();
    if (!type) return undefined;
    const row = await tx
      .insertInto('builds')
      .values({
        name: 'check',
        team_id: type.team_id,
        pipeline_id: type.pipeline_id,
        resource_type_id: type.id,
        status: 'pending',
        manually_triggered: options.manuallyTriggered ?? true,
        created_by: options.createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('resource_types')
      .set({ last_check_build_id: row.id })
      .where('id', '=', type.id)
      .execute();
    return row.id;
  });
  return id === undefined ? undefined : findPipelineBuild(db, id);
}

/** Point the type at the config and scope its check used, and record its check error (null clears it). */
export async function recordResourceTypeCheck(
  db: Kysely<Database>,
  resourceTypeId: number,
  result: { resourceConfigId?: number; scopeId?: number; checkError: string | null },
): Promise<void> {
  await db
    .updateTable('resource_types')
    .set({
      check_error: result.checkError,
      ...(result.resourceConfigId !== undefined ? { resource_config_id: result.resourceConfigId } : {}),
      ...(result.scopeId !== undefined ? { resource_config_scope_id: result.scopeId } : {}),
    })
    .where('id', '=', resourceTypeId)
    .execute();
}
