// The step envelope (atc/steps.go `Step.UnmarshalJSON`): step keys are tried in a fixed precedence order;
// every modifier found wraps the next step found, and parsing stops at the first core step. Keys left over
// are kept as unknown fields for the validator. Each step struct is decoded leniently, as Go's
// `json.Unmarshal` does, and a failure is reported as `malformed <key> step: <cause>`.
import { parseTaskConfig, TaskConfigError, type ContainerLimits, type TaskConfig } from '@jetbridge/plan';
import {
  GoJsonError,
  StructReader,
  compact,
  fieldContext,
  valueMismatch,
  type JsonObject,
} from './go-json.js';
import type { AcrossVarConfig, InputsConfig, Step, StepConfig, VersionConfig } from './steps.js';
import { isJsonObject, setOwn, type JsonValue } from './yaml-source.js';

export const NO_STEP_CONFIGURED = 'no step configured';
export const NO_CORE_STEP_DECLARED = 'no core step type declared (e.g. get, put, task, etc.)';

type WrapperKey =
  'ensure' | 'on_error' | 'on_abort' | 'on_failure' | 'on_success' | 'across' | 'attempts' | 'timeout';
type CoreKey = 'run' | 'task' | 'put' | 'get' | 'set_pipeline' | 'load_var' | 'try' | 'do' | 'in_parallel';

/** Concourse's `StepPrecedence`: modifiers first (outermost first), then the core steps. */
export const STEP_PRECEDENCE: ReadonlyArray<WrapperKey | CoreKey> = [
  'ensure',
  'on_error',
  'on_abort',
  'on_failure',
  'on_success',
  'across',
  'attempts',
  'run',
  'task',
  'put',
  'get',
  'timeout',
  'set_pipeline',
  'load_var',
  'try',
  'do',
  'in_parallel',
];

const WRAPPER_KEYS: ReadonlySet<string> = new Set<WrapperKey>([
  'ensure',
  'on_error',
  'on_abort',
  'on_failure',
  'on_success',
  'across',
  'attempts',
  'timeout',
]);

/** The JSON fields of each step struct; once a step is parsed, these keys are consumed. */
const STEP_FIELDS: Record<WrapperKey | CoreKey, readonly string[]> = {
  ensure: ['ensure'],
  on_error: ['on_error'],
  on_abort: ['on_abort'],
  on_failure: ['on_failure'],
  on_success: ['on_success'],
  across: ['across', 'fail_fast'],
  attempts: ['attempts'],
  run: ['run', 'type', 'params', 'privileged', 'tags', 'container_limits', 'timeout'],
  task: [
    'task',
    'privileged',
    'hermetic',
    'file',
    'container_limits',
    'config',
    'params',
    'vars',
    'tags',
    'input_mapping',
    'output_mapping',
    'image',
    'timeout',
  ],
  put: ['put', 'resource', 'params', 'inputs', 'tags', 'get_params', 'timeout', 'no_get'],
  get: ['get', 'resource', 'version', 'params', 'passed', 'trigger', 'tags', 'timeout'],
  timeout: ['timeout'],
  set_pipeline: ['set_pipeline', 'file', 'team', 'vars', 'var_files', 'instance_vars'],
  load_var: ['load_var', 'file', 'format', 'reveal'],
  try: ['try'],
  do: ['do', 'tags'],
  in_parallel: ['in_parallel', 'tags'],
};

const TASK_CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'platform',
  'rootfs_uri',
  'image_resource',
  'container_limits',
  'params',
  'run',
  'inputs',
  'outputs',
  'caches',
]);

type Wrap = (inner: StepConfig) => StepConfig;

/**
 * Decode one step (the value of a plan entry, a hook, `try:`...).
 *
 * @throws GoJsonError with Concourse's message: `no step configured`, `malformed get step: ...`.
 */
export function decodeStep(value: JsonValue | undefined): Step {
  if (value === null || value === undefined) throw new GoJsonError(NO_STEP_CONFIGURED);
  if (!isJsonObject(value)) throw valueMismatch(value, 'map[string]*json.RawMessage');

  const remaining: JsonObject = {};
  for (const [key, item] of Object.entries(value)) setOwn(remaining, key, item);

  const wrappers: Wrap[] = [];
  let core: StepConfig | undefined;
  for (const key of STEP_PRECEDENCE) {
    if (!Object.hasOwn(remaining, key)) continue;
    const reader = new StructReader({ ...remaining }, fieldContext(structName(key)));
    try {
      if (WRAPPER_KEYS.has(key)) wrappers.push(decodeWrapper(key as WrapperKey, reader));
      else core = decodeCoreStep(key as CoreKey, reader);
    } catch (error) {
      if (error instanceof GoJsonError) throw new GoJsonError(`malformed ${key} step: ${error.message}`);
      throw error;
    }
    for (const field of STEP_FIELDS[key]) delete remaining[field];
    if (core !== undefined) break;
  }

  if (wrappers.length === 0 && core === undefined) throw new GoJsonError(NO_STEP_CONFIGURED);
  if (core === undefined) throw new GoJsonError(NO_CORE_STEP_DECLARED);

  let config = core;
  for (let i = wrappers.length - 1; i >= 0; i--) config = (wrappers[i] as Wrap)(config);
  const step: Step = { config };
  if (Object.keys(remaining).length > 0) step.unknownFields = remaining;
  return step;
}

function structName(key: WrapperKey | CoreKey): string {
  const names: Record<WrapperKey | CoreKey, string> = {
    ensure: 'EnsureStep',
    on_error: 'OnErrorStep',
    on_abort: 'OnAbortStep',
    on_failure: 'OnFailureStep',
    on_success: 'OnSuccessStep',
    across: 'AcrossStep',
    attempts: 'RetryStep',
    run: 'RunStep',
    task: 'TaskStep',
    put: 'PutStep',
    get: 'GetStep',
    timeout: 'TimeoutStep',
    set_pipeline: 'SetPipelineStep',
    load_var: 'LoadVarStep',
    try: 'TryStep',
    do: 'DoStep',
    in_parallel: 'InParallelStep',
  };
  return names[key];
}

function decodeWrapper(key: WrapperKey, reader: StructReader): Wrap {
  switch (key) {
    case 'ensure':
    case 'on_error':
    case 'on_abort':
    case 'on_failure':
    case 'on_success': {
      // A hook is a struct (not a pointer) field, so even `null` goes through the step decoder.
      const hook = decodeStep(reader.object[key]);
      return (step) => ({ kind: key, step, hook });
    }
    case 'across': {
      const vars = (reader.array('across', '[]atc.AcrossVarConfig') ?? []).map(decodeAcrossVar);
      const failFast = reader.boolean('fail_fast');
      return (step) => compact({ kind: 'across', vars, fail_fast: failFast, step });
    }
    case 'attempts': {
      const attempts = reader.integer('attempts') ?? 0;
      return (step) => ({ kind: 'retry', attempts, step });
    }
    case 'timeout': {
      const duration = reader.string('timeout') ?? '';
      return (step) => ({ kind: 'timeout', duration, step });
    }
  }
}

function decodeCoreStep(key: CoreKey, reader: StructReader): StepConfig {
  switch (key) {
    case 'get':
      return compact({
        kind: 'get',
        name: reader.string('get') ?? '',
        resource: reader.string('resource'),
        version: decodeVersionConfig(reader.raw('version')),
        params: reader.map('params', 'atc.Params'),
        passed: reader.strings('passed'),
        trigger: reader.boolean('trigger'),
        tags: reader.tags('tags'),
        timeout: reader.string('timeout'),
      });
    case 'put':
      return compact({
        kind: 'put',
        name: reader.string('put') ?? '',
        resource: reader.string('resource'),
        params: reader.map('params', 'atc.Params'),
        inputs: decodeInputsConfig(reader.raw('inputs')),
        tags: reader.tags('tags'),
        get_params: reader.map('get_params', 'atc.Params'),
        timeout: reader.string('timeout'),
        no_get: reader.boolean('no_get'),
      });
    case 'task': {
      const { config, unknownFields } = decodeInlineTaskConfig(reader.raw('config'));
      return compact({
        kind: 'task',
        name: reader.string('task') ?? '',
        privileged: reader.boolean('privileged'),
        hermetic: reader.boolean('hermetic'),
        file: reader.string('file'),
        container_limits: decodeContainerLimits(reader.raw('container_limits')),
        config,
        configUnknownFields: unknownFields,
        params: decodeTaskEnv(reader.raw('params')),
        vars: reader.map('vars', 'atc.Params'),
        tags: reader.tags('tags'),
        input_mapping: reader.stringMap('input_mapping', 'map[string]string'),
        output_mapping: reader.stringMap('output_mapping', 'map[string]string'),
        image: reader.string('image'),
        timeout: reader.string('timeout'),
      });
    }
    case 'run':
      return compact({
        kind: 'run',
        message: reader.string('run') ?? '',
        type: reader.string('type') ?? '',
        params: reader.map('params', 'atc.Params'),
        privileged: reader.boolean('privileged'),
        tags: reader.tags('tags'),
        container_limits: decodeContainerLimits(reader.raw('container_limits')),
        timeout: reader.string('timeout'),
      });
    case 'set_pipeline':
      return compact({
        kind: 'set_pipeline',
        name: reader.string('set_pipeline') ?? '',
        file: reader.string('file'),
        team: reader.string('team'),
        vars: reader.map('vars', 'atc.Params'),
        var_files: reader.strings('var_files'),
        instance_vars: reader.map('instance_vars', 'atc.InstanceVars'),
      });
    case 'load_var':
      return compact({
        kind: 'load_var',
        name: reader.string('load_var') ?? '',
        file: reader.string('file'),
        format: reader.string('format'),
        reveal: reader.boolean('reveal'),
      });
    case 'try':
      return { kind: 'try', step: decodeStep(reader.object['try']) };
    case 'do':
      return compact({
        kind: 'do',
        steps: reader.array('do', '[]atc.Step')?.map(decodeStep),
        tags: reader.tags('tags'),
      });
    case 'in_parallel':
      return compact({
        kind: 'in_parallel',
        ...decodeInParallelConfig(reader.object['in_parallel']),
        tags: reader.tags('tags'),
      });
  }
}

/** `atc.InParallelConfig`: a list of steps, or `{steps, limit, fail_fast}` (other keys ignored). */
function decodeInParallelConfig(value: JsonValue | undefined): {
  steps?: Step[];
  limit?: number;
  fail_fast?: boolean;
} {
  if (Array.isArray(value)) {
    try {
      return { steps: value.map(decodeStep) };
    } catch (error) {
      if (error instanceof GoJsonError)
        throw new GoJsonError(`failed to unmarshal parallel steps: ${error.message}`);
      throw error;
    }
  }
  if (isJsonObject(value)) {
    try {
      const reader = new StructReader(value, fieldContext('target'));
      return compact({
        steps: reader.array('steps', '[]atc.Step')?.map(decodeStep),
        limit: reader.integer('limit'),
        fail_fast: reader.boolean('fail_fast'),
      });
    } catch (error) {
      if (error instanceof GoJsonError)
        throw new GoJsonError(`failed to unmarshal parallel config: ${error.message}`);
      throw error;
    }
  }
  throw new GoJsonError(`wrong type for parallel config: ${goValueText(value ?? null)}`);
}

const ACROSS_VAR_FIELDS: ReadonlySet<string> = new Set(['var', 'values', 'max_in_flight']);

/** `atc.AcrossVarConfig`, decoded strictly (unknown keys are errors). */
function decodeAcrossVar(value: JsonValue): AcrossVarConfig {
  if (value === null) return { var: '' };
  if (!isJsonObject(value)) throw valueMismatch(value, 'atc.target');
  for (const key of Object.keys(value)) {
    if (!ACROSS_VAR_FIELDS.has(key)) throw new GoJsonError(`json: unknown field ${JSON.stringify(key)}`);
  }
  const reader = new StructReader(value, fieldContext('target'));
  return compact({
    var: reader.string('var') ?? '',
    values: reader.raw('values'),
    max_in_flight: decodeMaxInFlight(reader.raw('max_in_flight')),
  });
}

function decodeMaxInFlight(value: JsonValue | undefined): 'all' | number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (value !== 'all') throw new GoJsonError(`invalid max_in_flight ${JSON.stringify(value)}`);
    return 'all';
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) throw valueMismatch(value, 'int');
  return value;
}

/** `atc.VersionConfig`: `latest`, `every`, or a map of strings; any other string means neither. */
function decodeVersionConfig(value: JsonValue | undefined): VersionConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value === 'latest' || value === 'every' ? value : '';
  if (isJsonObject(value)) {
    const version: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) {
      if (typeof item !== 'string')
        throw new GoJsonError(`the value ${goValueText(item)} of ${key} is not a string`);
      version[key] = item;
    }
    return version;
  }
  throw new GoJsonError('unknown type for version');
}

/** `atc.InputsConfig`: `all`, `detect`, or a list of artifact names (trimmed). */
function decodeInputsConfig(value: JsonValue | undefined): InputsConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value === 'all' || value === 'detect' ? value : '';
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (typeof item !== 'string') throw new GoJsonError(`non-string put input: ${goValueText(item)}`);
      return item.trim();
    });
  }
  throw new GoJsonError('unknown type for put inputs');
}

/** `atc.ContainerLimits`: cpu shares (a number), memory in bytes or as "1GB" (binary units). */
function decodeContainerLimits(value: JsonValue | undefined): ContainerLimits | undefined {
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw valueMismatch(value, 'atc.ContainerLimits');
  const limits: ContainerLimits = {};
  const cpu = value['cpu'];
  if (cpu !== undefined && cpu !== null) {
    if (typeof cpu !== 'number') throw new GoJsonError('cpu limit must be an integer');
    limits.cpu = Math.trunc(cpu);
  }
  const memory = value['memory'];
  if (typeof memory === 'number') limits.memory = Math.trunc(memory);
  else if (typeof memory === 'string') limits.memory = parseMemoryLimit(memory);
  return limits;
}

const MEMORY_LIMIT = /^([0-9]+)(([KMG])(i)?B?)?$/i;

function parseMemoryLimit(text: string): number {
  const match = MEMORY_LIMIT.exec(text);
  if (match === null) throw new GoJsonError('could not parse container memory limit');
  const unit = match[3]?.toUpperCase();
  const multiplier = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  return Number(match[1]) * multiplier;
}

/** `atc.TaskEnv`: every value coerced to a string (null → "", numbers and booleans as text, others as JSON). */
function decodeTaskEnv(value: JsonValue | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw valueMismatch(value, 'map[string]atc.CoercedString');
  const env: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) env[key] = coerceToString(item);
  return env;
}

function coerceToString(value: JsonValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return goJsonText(value);
}

/** An inline task config, with the keys a task config does not have set aside for the validator. */
function decodeInlineTaskConfig(value: JsonValue | undefined): {
  config?: TaskConfig;
  unknownFields?: Record<string, unknown>;
} {
  if (value === undefined) return {};
  if (!isJsonObject(value)) throw valueMismatch(value, 'map[string]*json.RawMessage');
  let config: TaskConfig;
  try {
    config = parseTaskConfig(value);
  } catch (error) {
    if (error instanceof TaskConfigError) throw new GoJsonError(error.message);
    throw error;
  }
  const unknown = Object.keys(value).filter((key) => !TASK_CONFIG_FIELDS.has(key));
  if (unknown.length === 0) return { config };
  return { config, unknownFields: Object.fromEntries(unknown.map((key) => [key, value[key]])) };
}

/** A value as Go's `%v` prints a decoded JSON value (close enough for error messages). */
export function goValueText(value: JsonValue): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goValueText).join(' ')}]`;
  if (isJsonObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${key}:${goValueText(value[key] ?? null)}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(value);
}

/** JSON as Go's encoder writes decoded data: object keys sorted. */
export function goJsonText(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(goJsonText).join(',')}]`;
  if (isJsonObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${goJsonText(value[key] ?? null)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
