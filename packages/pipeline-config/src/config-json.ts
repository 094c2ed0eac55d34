// The JSON form of a pipeline config that Concourse stores and returns from `GET P/config`: Go's encoding of
// `atc.Config` — struct fields in declaration order, `omitempty` fields dropped when zero (false, 0, "",
// empty list or map), free-form maps with sorted keys, each step flattened back into one map (modifier keys
// and core step keys together, sorted as Go sorts map keys), `in_parallel` always in its object form. fly decodes this and diffs it against the local file, so
// everything that decodes to the same config compares equal.
import type { TaskConfig } from '@jetbridge/plan';
import type {
  BuildLogRetention,
  JobConfig,
  PipelineConfig,
  ResourceConfig,
  ResourceTypeConfig,
} from './config.js';
import type { AcrossVarConfig, Step, StepConfig } from './steps.js';

export type ConfigJson = { [key: string]: unknown };

/** Builds an object field by field, leaving out what Go's `omitempty` would leave out. */
class GoObject {
  readonly value: ConfigJson = {};

  /** A field without `omitempty`: always present (`undefined` becomes `null`). */
  always(key: string, value: unknown): this {
    Object.defineProperty(this.value, key, {
      value: value ?? null,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return this;
  }

  /** An `omitempty` field. */
  omitEmpty(key: string, value: unknown): this {
    return isEmpty(value) ? this : this.always(key, value);
  }

  /** An `omitempty` pointer field: only `undefined`/`null` is left out. */
  omitNil(key: string, value: unknown): this {
    return value === undefined || value === null ? this : this.always(key, value);
  }
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** A free-form value as Go re-encodes decoded JSON: object keys sorted, at every level. */
function freeForm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(freeForm);
  if (typeof value === 'object' && value !== null) {
    const sorted = new GoObject();
    for (const key of Object.keys(value).sort()) sorted.always(key, freeForm((value as ConfigJson)[key]));
    return sorted.value;
  }
  return value;
}

function freeFormOrUndefined(value: unknown): unknown {
  return value === undefined ? undefined : freeForm(value);
}

export function toConfigJson(config: PipelineConfig): ConfigJson {
  return new GoObject()
    .omitEmpty(
      'groups',
      config.groups?.map(
        (group) =>
          new GoObject()
            .always('name', group.name)
            .omitEmpty('jobs', group.jobs)
            .omitEmpty('resources', group.resources).value,
      ),
    )
    .omitEmpty(
      'var_sources',
      config.var_sources?.map(
        (varSource) =>
          new GoObject()
            .always('name', varSource.name)
            .always('type', varSource.type)
            .always('config', freeFormOrUndefined(varSource.config)).value,
      ),
    )
    .omitEmpty('resources', config.resources?.map(resourceJson))
    .omitEmpty('resource_types', config.resource_types?.map(resourceTypeJson))
    .omitEmpty('prototypes', config.prototypes?.map(resourceTypeJson))
    .omitEmpty('jobs', config.jobs?.map(jobJson))
    .omitNil(
      'display',
      config.display === undefined
        ? undefined
        : new GoObject()
            .omitEmpty('background_image', config.display.background_image)
            .omitEmpty('background_filter', config.display.background_filter).value,
    )
    .omitNil('user_data', freeFormOrUndefined(config.user_data)).value;
}

function resourceJson(resource: ResourceConfig): ConfigJson {
  return new GoObject()
    .always('name', resource.name)
    .omitEmpty('old_name', resource.old_name)
    .omitEmpty('public', resource.public)
    .omitEmpty('webhook_token', resource.webhook_token)
    .always('type', resource.type)
    .always('source', freeFormOrUndefined(resource.source))
    .omitNil('check_every', resource.check_every)
    .omitEmpty('check_timeout', resource.check_timeout)
    .omitEmpty('tags', resource.tags)
    .omitEmpty('version', freeFormOrUndefined(resource.version))
    .omitEmpty('icon', resource.icon)
    .omitEmpty('expose_build_created_by', resource.expose_build_created_by).value;
}

function resourceTypeJson(resourceType: ResourceTypeConfig): ConfigJson {
  return new GoObject()
    .always('name', resourceType.name)
    .always('type', resourceType.type)
    .always('source', freeFormOrUndefined(resourceType.source))
    .omitEmpty('defaults', freeFormOrUndefined(resourceType.defaults))
    .omitEmpty('privileged', resourceType.privileged)
    .omitNil('check_every', resourceType.check_every)
    .omitEmpty('tags', resourceType.tags)
    .omitEmpty('params', freeFormOrUndefined(resourceType.params)).value;
}

function retentionJson(retention: BuildLogRetention | undefined): ConfigJson | undefined {
  if (retention === undefined) return undefined;
  return new GoObject()
    .omitEmpty('builds', retention.builds)
    .omitEmpty('minimum_succeeded_builds', retention.minimum_succeeded_builds)
    .omitEmpty('days', retention.days).value;
}

function jobJson(job: JobConfig): ConfigJson {
  const hook = (step: Step | undefined): ConfigJson | undefined =>
    step === undefined ? undefined : stepJson(step);
  return new GoObject()
    .always('name', job.name)
    .omitEmpty('old_name', job.old_name)
    .omitEmpty('public', job.public)
    .omitEmpty('disable_manual_trigger', job.disable_manual_trigger)
    .omitEmpty('disable_reruns', job.disable_reruns)
    .omitEmpty('serial', job.serial)
    .omitEmpty('interruptible', job.interruptible)
    .omitEmpty('serial_groups', job.serial_groups)
    .omitEmpty('max_in_flight', job.max_in_flight)
    .omitEmpty('tags', job.tags)
    .omitEmpty('build_logs_to_retain', job.build_logs_to_retain)
    .omitNil('build_log_retention', retentionJson(job.build_log_retention))
    .omitNil('on_success', hook(job.on_success))
    .omitNil('on_failure', hook(job.on_failure))
    .omitNil('on_abort', hook(job.on_abort))
    .omitNil('on_error', hook(job.on_error))
    .omitNil('ensure', hook(job.ensure))
    .always('plan', job.plan?.map(stepJson)).value;
}

/** A step as one map: unknown fields, then each wrapper's and the core step's fields; keys sorted. */
export function stepJson(step: Step): ConfigJson {
  const fields: ConfigJson = {};
  const put = (source: ConfigJson): void => {
    for (const [key, value] of Object.entries(source)) {
      Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
    }
  };
  if (step.unknownFields !== undefined) put(freeForm(step.unknownFields) as ConfigJson);
  let current: StepConfig | undefined = step.config;
  while (current !== undefined) {
    put(stepFieldsJson(current));
    current = 'step' in current && current.kind !== 'try' ? current.step : undefined;
  }
  const sorted = new GoObject();
  for (const key of Object.keys(fields).sort()) sorted.always(key, fields[key]);
  return sorted.value;
}

function stepFieldsJson(step: StepConfig): ConfigJson {
  const o = new GoObject();
  switch (step.kind) {
    case 'get':
      return o
        .always('get', step.name)
        .omitEmpty('resource', step.resource)
        .omitNil('version', freeFormOrUndefined(step.version))
        .omitEmpty('params', freeFormOrUndefined(step.params))
        .omitEmpty('passed', step.passed)
        .omitEmpty('trigger', step.trigger)
        .omitEmpty('tags', step.tags)
        .omitEmpty('timeout', step.timeout).value;
    case 'put':
      return o
        .always('put', step.name)
        .omitEmpty('resource', step.resource)
        .omitEmpty('params', freeFormOrUndefined(step.params))
        .omitNil('inputs', step.inputs)
        .omitEmpty('tags', step.tags)
        .omitEmpty('get_params', freeFormOrUndefined(step.get_params))
        .omitEmpty('timeout', step.timeout)
        .omitEmpty('no_get', step.no_get).value;
    case 'task':
      return o
        .always('task', step.name)
        .omitEmpty('privileged', step.privileged)
        .omitEmpty('hermetic', step.hermetic)
        .omitEmpty('file', step.file)
        .omitNil('container_limits', containerLimitsJson(step.container_limits))
        .omitNil('config', step.config === undefined ? undefined : taskConfigJson(step.config))
        .omitEmpty('params', freeFormOrUndefined(step.params))
        .omitEmpty('vars', freeFormOrUndefined(step.vars))
        .omitEmpty('tags', step.tags)
        .omitEmpty('input_mapping', freeFormOrUndefined(step.input_mapping))
        .omitEmpty('output_mapping', freeFormOrUndefined(step.output_mapping))
        .omitEmpty('image', step.image)
        .omitEmpty('timeout', step.timeout).value;
    case 'run':
      return o
        .always('run', step.message)
        .always('type', step.type)
        .omitEmpty('params', freeFormOrUndefined(step.params))
        .omitEmpty('privileged', step.privileged)
        .omitEmpty('tags', step.tags)
        .omitNil('container_limits', containerLimitsJson(step.container_limits))
        .omitEmpty('timeout', step.timeout).value;
    case 'set_pipeline':
      return o
        .always('set_pipeline', step.name)
        .omitEmpty('file', step.file)
        .omitEmpty('team', step.team)
        .omitEmpty('vars', freeFormOrUndefined(step.vars))
        .omitEmpty('var_files', step.var_files)
        .omitEmpty('instance_vars', freeFormOrUndefined(step.instance_vars)).value;
    case 'load_var':
      return o
        .always('load_var', step.name)
        .omitEmpty('file', step.file)
        .omitEmpty('format', step.format)
        .omitEmpty('reveal', step.reveal).value;
    case 'try':
      return o.always('try', stepJson(step.step)).value;
    case 'do':
      return o.always('do', step.steps?.map(stepJson)).omitEmpty('tags', step.tags).value;
    case 'in_parallel':
      return o
        .always(
          'in_parallel',
          new GoObject()
            .omitEmpty('steps', step.steps?.map(stepJson))
            .omitEmpty('limit', step.limit)
            .omitEmpty('fail_fast', step.fail_fast).value,
        )
        .omitEmpty('tags', step.tags).value;
    case 'across':
      return o.always('across', step.vars.map(acrossVarJson)).omitEmpty('fail_fast', step.fail_fast).value;
    case 'retry':
      return o.always('attempts', step.attempts).value;
    case 'timeout':
      return o.always('timeout', step.duration).value;
    case 'on_success':
    case 'on_failure':
    case 'on_abort':
    case 'on_error':
    case 'ensure':
      return o.always(step.kind, stepJson(step.hook)).value;
  }
}

function acrossVarJson(acrossVar: AcrossVarConfig): ConfigJson {
  return new GoObject()
    .always('var', acrossVar.var)
    .omitNil('values', freeFormOrUndefined(acrossVar.values))
    .omitNil('max_in_flight', acrossVar.max_in_flight).value;
}

function containerLimitsJson(limits: { cpu?: number; memory?: number } | undefined): ConfigJson | undefined {
  if (limits === undefined) return undefined;
  return new GoObject().omitNil('cpu', limits.cpu).omitNil('memory', limits.memory).value;
}

/** `atc.TaskConfig`; `run` is `omitzero` (left out when nothing in it is set). */
function taskConfigJson(config: TaskConfig): ConfigJson {
  const run = config.run;
  const runIsZero =
    run === undefined ||
    (run.path === '' && run.args === undefined && (run.dir ?? '') === '' && (run.user ?? '') === '');
  const image = config.image_resource;
  return new GoObject()
    .omitEmpty('platform', config.platform)
    .omitEmpty('rootfs_uri', config.rootfs_uri)
    .omitNil(
      'image_resource',
      image === undefined
        ? undefined
        : new GoObject()
            .always('name', image.name)
            .always('type', image.type)
            .always('source', freeFormOrUndefined(image.source))
            .omitEmpty('version', freeFormOrUndefined(image.version))
            .omitEmpty('params', freeFormOrUndefined(image.params))
            .omitEmpty('tags', image.tags).value,
    )
    .omitNil('container_limits', containerLimitsJson(config.container_limits))
    .omitEmpty('params', freeFormOrUndefined(config.params))
    .omitNil(
      'run',
      runIsZero
        ? undefined
        : new GoObject()
            .always('path', run.path)
            .omitEmpty('args', run.args)
            .omitEmpty('dir', run.dir)
            .omitEmpty('user', run.user).value,
    )
    .omitEmpty(
      'inputs',
      config.inputs?.map(
        (input) =>
          new GoObject()
            .always('name', input.name)
            .omitEmpty('path', input.path)
            .omitEmpty('optional', input.optional).value,
      ),
    )
    .omitEmpty(
      'outputs',
      config.outputs?.map(
        (output) => new GoObject().always('name', output.name).omitEmpty('path', output.path).value,
      ),
    )
    .omitEmpty(
      'caches',
      config.caches?.map(
        (cache) => new GoObject().omitEmpty('path', cache.path).omitEmpty('ttl', cache.ttl).value,
      ),
    ).value;
}
