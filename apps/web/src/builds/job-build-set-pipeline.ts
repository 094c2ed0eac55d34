// The set_pipeline step's database half (Concourse's atc/exec/set_pipeline_step.go after the files are
// read): render the file with the static vars (instance vars > vars > var files, the first file defining a
// var wins; unknown vars stay), parse and validate it (problems fail the step, printed), resolve the team
// (only an admin team may set another team's pipeline), diff against the current config, and save it with
// the build as its parent — unpaused when new. `no changes to apply.` when nothing differs.
import {
  findPipeline,
  findTeamByName,
  savePipeline,
  SetByNewerBuildError,
  type Database,
  type Json,
  type Kysely,
  type TeamRecord,
} from '@jetbridge/db';
import type { SetPipelineRequest, SetPipelineResult } from '@jetbridge/exec';
import {
  parsePipelineConfig,
  pipelineRefToString,
  validatePipelineConfig,
  type PipelineConfig,
} from '@jetbridge/pipeline-config';
import { parse as parseYaml } from 'yaml';
import { pipelineConfigRows } from '../api/pipeline-config-rows.js';
import { resolveStaticVars } from '../creds/index.js';
import { pipelineConfigDiff } from './job-build-config-diff.js';

export interface PipelineSetterContext {
  db: Kysely<Database>;
  buildId: number;
  jobId: number;
  /** A pipeline was created or changed: the scheduler's and checker's doorbells. */
  onSaved(pipelineId: number): void;
}

const NEWER_BUILD_WARNING =
  '\x1b[1;33mWARNING: the pipeline was not saved because it was already saved by a newer build\x1b[0m\n';

export function jobBuildPipelineSetter(
  context: PipelineSetterContext,
): (request: SetPipelineRequest) => Promise<SetPipelineResult> {
  const { db } = context;
  return async (request) => {
    const rendered = renderPipeline(request);
    if ('error' in rendered) {
      await request.stderr(`error parsing pipeline:\n${rendered.error}\n`);
      return { invalid: true };
    }
    const config = rendered.config;
    const { errors, warnings } = validatePipelineConfig(config);
    for (const warning of warnings) await request.stderr(`WARNING: ${warning.message}\n`);
    if (errors.length > 0) {
      await request.stderr(`invalid pipeline:\n${errors.map((error) => `- ${error}`).join('')}`);
      return { invalid: true };
    }

    const team = await targetTeam(db, request);
    const instanceVars = (request.instanceVars ?? null) as Record<string, Json> | null;
    const existing = await findPipeline(db, team.id, request.pipelineName, instanceVars);
    const existingConfig =
      existing?.config === null || existing?.config === undefined
        ? undefined
        : parsePipelineConfig(JSON.stringify(existing.config), 'application/json').config;

    const diff = pipelineConfigDiff(existingConfig, config);
    if (diff === '') {
      await request.stdout('no changes to apply.\n');
      if (existing !== undefined) await setParentIds(db, existing.id, context.jobId, context.buildId);
      return { changed: false };
    }
    await request.stdout(diff);
    await request.stdout(`setting pipeline: ${pipelineRefToString(request.pipelineName, instanceVars)}\n`);
    try {
      const saved = await savePipeline(db, {
        teamId: team.id,
        name: request.pipelineName,
        instanceVars,
        fromVersion: existing?.configVersion ?? 0,
        initiallyPaused: false,
        parentJobId: context.jobId,
        parentBuildId: context.buildId,
        config: pipelineConfigRows(config),
      });
      context.onSaved(saved.pipeline.id);
    } catch (err) {
      if (err instanceof SetByNewerBuildError) {
        await request.stderr(NEWER_BUILD_WARNING);
        return { changed: true };
      }
      throw err;
    }
    await request.stdout('done\n');
    return { changed: true };
  };
}

/** The config with static vars applied, or why it cannot be read. */
function renderPipeline(request: SetPipelineRequest): { config: PipelineConfig } | { error: string } {
  const direct = parsePipelineConfig(request.config);
  if (direct.errors) return { error: direct.errors.join('\n') };

  const varSets: Array<Record<string, unknown>> = [];
  if (request.instanceVars !== undefined && Object.keys(request.instanceVars).length > 0) {
    varSets.push(request.instanceVars);
  }
  if (request.vars !== undefined && Object.keys(request.vars).length > 0) varSets.push(request.vars);
  try {
    for (const file of request.varFiles) {
      const vars: unknown = parseYaml(file.content) ?? {};
      if (typeof vars !== 'object' || Array.isArray(vars)) {
        return { error: `error unmarshaling JSON: ${file.path} is not a map of vars` };
      }
      varSets.push(vars as Record<string, unknown>);
    }
    if (varSets.length === 0) return { config: direct.config };
    const resolved = resolveStaticVars(parseYaml(request.config, { uniqueKeys: false }), varSets);
    const reparsed = parsePipelineConfig(JSON.stringify(resolved ?? {}), 'application/json');
    if (reparsed.errors) return { error: reparsed.errors.join('\n') };
    return { config: reparsed.config };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** The team to save into: the build's own, or another one when the build's team is an admin team. */
async function targetTeam(db: Kysely<Database>, request: SetPipelineRequest): Promise<TeamRecord> {
  const current = await findTeamByName(db, request.build.teamName);
  if (current === undefined) throw new Error(`team ${request.build.teamName} not found`);
  if (request.teamName === undefined || request.teamName === '') return current;
  const target = await findTeamByName(db, request.teamName);
  if (target === undefined) throw new Error(`team ${request.teamName} not found`);
  if (target.id !== current.id && !current.admin) {
    throw new Error("only main team can set another team's pipeline");
  }
  return target;
}

/** Record the build as the pipeline's parent when it set it unchanged (pipeline.SetParentIDs). */
async function setParentIds(
  db: Kysely<Database>,
  pipelineId: number,
  jobId: number,
  buildId: number,
): Promise<void> {
  await db
    .updateTable('pipelines')
    .set({ parent_job_id: jobId, parent_build_id: buildId })
    .where('id', '=', pipelineId)
    .where((eb) => eb.or([eb('parent_build_id', 'is', null), eb('parent_build_id', '<', buildId)]))
    .execute();
}
