// Where a task step's config comes from and how the step's own settings apply to it
// (atc/exec/task_config_source.go, in TaskStep.run's order): the inline `config`, or a `config_path` file read
// from an artifact and rendered with the step's `vars` (unknown vars stay); then the step's
// `container_limits` and `params` override the config's; then the whole config is interpolated with the
// build's vars (every var must resolve); then it is validated.
import { parse as parseYaml } from 'yaml';
import {
  TaskConfigError,
  TaskValidationError,
  assertValidTaskConfig,
  parseTaskConfig,
  type TaskConfig,
  type TaskPlan,
} from '@jetbridge/plan';
import { FileNotFoundError } from '@jetbridge/runtime';
import type { BuildArtifactRepository } from '../artifact-repository.js';
import { readArtifactFile, splitArtifactPath } from '../artifact-file.js';
import { StepError } from '../step-errors.js';
import { interpolate, type VarLookup } from '../vars/interpolate.js';
import { staticVarsLookup } from '../vars/build-vars.js';

/** `config_path` has no artifact part (`task.yml` instead of `repo/task.yml`). */
export class UnspecifiedArtifactSourceError extends StepError {
  constructor(configPath: string, stepName: string) {
    super(`config path '${configPath}' does not specify where the file lives`, stepName);
    this.name = 'UnspecifiedArtifactSourceError';
  }
}

/** The artifact named by `config_path` does not exist in the build. */
export class UnknownArtifactSourceError extends StepError {
  constructor(sourceName: string, configPath: string, stepName: string) {
    super(`unknown artifact source: '${sourceName}' in file path '${configPath}'`, stepName);
    this.name = 'UnknownArtifactSourceError';
  }
}

/** The task's config as the step will run it: loaded, with the step's overrides, interpolated, validated. */
export async function resolveTaskConfig(
  task: TaskPlan,
  artifacts: BuildArtifactRepository,
  buildVars: VarLookup,
): Promise<TaskConfig> {
  let loaded: TaskConfig;
  if (task.config_path !== undefined && task.config_path !== '') {
    loaded = await readTaskConfigFile(task.config_path, task.name, artifacts);
    // Only a file is rendered with the step's vars; whatever they do not define is left for the build's vars.
    if (task.vars !== undefined && Object.keys(task.vars).length > 0) {
      loaded = await interpolateConfig(loaded, staticVarsLookup(task.vars), false, task.name);
    }
  } else {
    loaded = structuredClone(task.config ?? { run: { path: '' } });
  }

  if (task.container_limits !== undefined) {
    loaded.container_limits = { ...loaded.container_limits, ...definedOnly(task.container_limits) };
  }
  if (task.params !== undefined) loaded.params = { ...loaded.params, ...task.params };

  const config = await interpolateConfig(loaded, buildVars, true, task.name);
  try {
    assertValidTaskConfig(config);
  } catch (error) {
    // Concourse re-decodes the config after interpolation (NewTaskConfig), which validates it: hence the prefix.
    if (error instanceof TaskValidationError) {
      throw new StepError(`failed to create task config from bytes: ${error.message}`, task.name, {
        cause: error,
      });
    }
    throw error;
  }
  return config;
}

/** InterpolateTemplateConfigSource: interpolate the config as data, then decode it again. */
async function interpolateConfig(
  config: TaskConfig,
  lookup: VarLookup,
  expectAllKeys: boolean,
  stepName: string,
): Promise<TaskConfig> {
  let interpolated: unknown;
  try {
    interpolated = await interpolate(JSON.parse(JSON.stringify(config)) as unknown, lookup, {
      expectAllKeys,
    });
  } catch (error) {
    throw new StepError(`failed to interpolate task config: ${(error as Error).message}`, stepName, {
      cause: error,
    });
  }
  try {
    return parseTaskConfig(interpolated);
  } catch (error) {
    if (!(error instanceof TaskConfigError)) throw error;
    throw new StepError(`failed to create task config from bytes: ${error.message}`, stepName, {
      cause: error,
    });
  }
}

async function readTaskConfigFile(
  configPath: string,
  stepName: string,
  artifacts: BuildArtifactRepository,
): Promise<TaskConfig> {
  const location = splitArtifactPath(configPath);
  if (location === undefined) throw new UnspecifiedArtifactSourceError(configPath, stepName);
  const volume = artifacts.lookup(location.artifact);
  if (volume === undefined) throw new UnknownArtifactSourceError(location.artifact, configPath, stepName);

  let content: Buffer;
  try {
    content = await readArtifactFile(volume, location.file);
  } catch (error) {
    if (error instanceof FileNotFoundError) {
      throw new StepError(`task config '${location.artifact}/${location.file}' not found`, stepName, {
        cause: error,
      });
    }
    throw error;
  }

  try {
    // sigs.k8s.io/yaml reads YAML 1.1 (yes/no are booleans), as Concourse does.
    const raw: unknown = parseYaml(content.toString('utf8'), { version: '1.1' });
    const config = parseTaskConfig(raw, { rejectUnknownFields: true });
    assertValidTaskConfig(config);
    return config;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const known =
      error instanceof TaskConfigError || error instanceof TaskValidationError || isYamlError(error);
    if (!known) throw error;
    throw new StepError(`failed to create task config from bytes ${configPath}: ${reason}`, stepName, {
      cause: error,
    });
  }
}

function isYamlError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'YAMLParseError' || error.name === 'YAMLWarning');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
