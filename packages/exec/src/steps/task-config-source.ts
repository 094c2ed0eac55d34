// Where a task step's config comes from and how the step's own settings apply to it
// (atc/exec/task_config_source.go): the inline `config`, or a `config_path` file read from an artifact; then
// the step's `container_limits` and `params` override the config's; then it is validated.
import { Readable } from 'node:stream';
import tar from 'tar-stream';
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
import { StepError } from '../step-errors.js';

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

/** The task's config as the step will run it: loaded, with the step's overrides, validated. */
export async function resolveTaskConfig(
  task: TaskPlan,
  artifacts: BuildArtifactRepository,
): Promise<TaskConfig> {
  const loaded =
    task.config_path !== undefined && task.config_path !== ''
      ? await readTaskConfigFile(task.config_path, task.name, artifacts)
      : structuredClone(task.config ?? { run: { path: '' } });

  if (task.container_limits !== undefined) {
    loaded.container_limits = { ...loaded.container_limits, ...definedOnly(task.container_limits) };
  }
  if (task.params !== undefined) loaded.params = { ...loaded.params, ...task.params };

  try {
    assertValidTaskConfig(loaded);
  } catch (error) {
    // Concourse re-decodes the config after interpolation (NewTaskConfig), which validates it: hence the prefix.
    if (error instanceof TaskValidationError) {
      throw new StepError(`failed to create task config from bytes: ${error.message}`, task.name, {
        cause: error,
      });
    }
    throw error;
  }
  return loaded;
}

async function readTaskConfigFile(
  configPath: string,
  stepName: string,
  artifacts: BuildArtifactRepository,
): Promise<TaskConfig> {
  const slash = configPath.indexOf('/');
  if (slash < 0) throw new UnspecifiedArtifactSourceError(configPath, stepName);
  const sourceName = configPath.slice(0, slash);
  const filePath = configPath.slice(slash + 1);
  const volume = artifacts.lookup(sourceName);
  if (volume === undefined) throw new UnknownArtifactSourceError(sourceName, configPath, stepName);

  let content: Buffer;
  try {
    content = await firstFileOf(await volume.streamOut(filePath));
  } catch (error) {
    if (error instanceof FileNotFoundError) {
      throw new StepError(`task config '${sourceName}/${filePath}' not found`, stepName, { cause: error });
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

/** The content of the first regular file in a tar stream (a volume streams a single file that way). */
async function firstFileOf(stream: Readable): Promise<Buffer> {
  const extract = tar.extract();
  stream.on('error', (error) => extract.destroy(error));
  stream.pipe(extract);
  let content: Buffer | undefined;
  for await (const entry of extract) {
    if (content === undefined && entry.header.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      content = Buffer.concat(chunks);
    } else {
      entry.resume();
    }
  }
  if (content === undefined) throw new FileNotFoundError('task config');
  return content;
}

function isYamlError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'YAMLParseError' || error.name === 'YAMLWarning');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
