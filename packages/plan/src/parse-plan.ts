// Decoding a build plan posted by fly (`POST /api/v1/teams/:team/builds`) or stored with a build.
// Like Go's decoder (atc/plan.go) it ignores unknown keys and treats `null` as absent, and rejects values of
// the wrong type. It is stricter in one way the engine relies on: every node has a string id, unique in
// the plan, and exactly one step.
import {
  DecodeError,
  compact,
  describe,
  expectObject,
  optionalArray,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringArray,
  optionalStringMap,
  stringField,
  type JsonObject,
} from './decode.js';
import { GoDurationError } from './go-duration.js';
import {
  TaskConfigError,
  decodeContainerLimits,
  decodeTaskConfig,
  decodeTaskEnv,
} from './parse-task-config.js';
import {
  STEP_KINDS,
  type AcrossPlan,
  type CheckPlan,
  type GetPlan,
  type InParallelPlan,
  type Plan,
  type PutPlan,
  type ResourceTypeConfig,
  type StepBodies,
  type StepKind,
  type TaskPlan,
  type TypeImage,
} from './plan.js';

/** A plan that cannot be decoded. The API answers 400. */
export class PlanError extends Error {
  readonly statusCode = 400;
  constructor(
    message: string,
    /** Where in the plan, e.g. `plan.ensure.step.do[1].task.config`. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'PlanError';
  }
}

/**
 * Decode and check the structure of a build plan.
 *
 * @example parsePlan(JSON.parse(body)) // the plan `fly execute` posts
 * @throws PlanError when the value is not a decodable plan
 */
export function parsePlan(json: unknown): Plan {
  const decoder = new PlanDecoder();
  try {
    return decoder.node(json, 'plan');
  } catch (error) {
    if (error instanceof DecodeError) throw new PlanError(error.message, error.path);
    if (error instanceof TaskConfigError || error instanceof GoDurationError)
      throw new PlanError(error.message);
    throw error;
  }
}

type BodyDecoders = { [K in StepKind]: (raw: unknown, path: string) => StepBodies[K] };

class PlanDecoder {
  private readonly ids = new Set<string>();

  node(raw: unknown, path: string): Plan {
    const obj = expectObject(raw, path);
    const id = obj['id'];
    if (typeof id !== 'string')
      throw new DecodeError(`${path}.id`, `expected a string id, got ${describe(id)}`);
    if (this.ids.has(id)) throw new DecodeError(`${path}.id`, `duplicate plan id "${id}"`);
    this.ids.add(id);

    const kinds = STEP_KINDS.filter((kind) => obj[kind] !== undefined && obj[kind] !== null);
    const [kind] = kinds;
    if (kind === undefined) throw new DecodeError(path, `plan node "${id}" has no step`);
    if (kinds.length > 1)
      throw new DecodeError(path, `plan node "${id}" has more than one step: ${kinds.join(', ')}`);

    const attempts = optionalArray(obj, 'attempts', path)?.map((attempt, i) => {
      if (typeof attempt !== 'number' || !Number.isInteger(attempt)) {
        throw new DecodeError(`${path}.attempts[${i}]`, `expected an integer, got ${describe(attempt)}`);
      }
      return attempt;
    });
    const body = (this.bodies[kind] as (raw: unknown, path: string) => unknown)(obj[kind], `${path}.${kind}`);
    const node: { id: string; [key: string]: unknown } = { id };
    if (attempts !== undefined) node['attempts'] = attempts;
    node[kind] = body;
    return node as unknown as Plan;
  }

  private plans(raw: unknown, path: string): Plan[] {
    if (raw === null || raw === undefined) return [];
    if (!Array.isArray(raw)) throw new DecodeError(path, `expected an array of plans, got ${describe(raw)}`);
    return raw.map((plan, i) => this.node(plan, `${path}[${i}]`));
  }

  private requiredPlan(obj: JsonObject, key: string, path: string): Plan {
    return this.node(obj[key], `${path}.${key}`);
  }

  private optionalPlan(obj: JsonObject, key: string, path: string): Plan | undefined {
    const value = obj[key];
    return value === undefined || value === null ? undefined : this.node(value, `${path}.${key}`);
  }

  private typeImage(obj: JsonObject, path: string): TypeImage {
    const image = optionalObject(obj, 'image', path) ?? {};
    const at = `${path}.image`;
    return compact({
      check_plan: this.optionalPlan(image, 'check_plan', at),
      get_plan: this.optionalPlan(image, 'get_plan', at),
      base_type: optionalString(image, 'base_type', at),
      privileged: optionalBoolean(image, 'privileged', at),
    });
  }

  private resourceTypes(obj: JsonObject, path: string): ResourceTypeConfig[] | undefined {
    return optionalArray(obj, 'resource_types', path)?.map((raw, i) => {
      const at = `${path}.resource_types[${i}]`;
      const type = expectObject(raw, at);
      return compact({
        name: stringField(type, 'name', at),
        type: stringField(type, 'type', at),
        source: optionalObject(type, 'source', at) ?? {},
        defaults: optionalObject(type, 'defaults', at),
        privileged: optionalBoolean(type, 'privileged', at),
        check_every: optionalString(type, 'check_every', at),
        tags: optionalStringArray(type, 'tags', at),
        params: optionalObject(type, 'params', at),
      });
    });
  }

  private hook<K extends 'on_success' | 'on_failure' | 'on_abort' | 'on_error' | 'ensure'>(key: K) {
    return (raw: unknown, path: string): StepBodies[K] => {
      const obj = expectObject(raw, path);
      return {
        step: this.requiredPlan(obj, 'step', path),
        [key]: this.requiredPlan(obj, key, path),
      } as unknown as StepBodies[K];
    };
  }

  private readonly bodies: BodyDecoders = {
    get: (raw, path): GetPlan => {
      const obj = expectObject(raw, path);
      return compact({
        name: optionalString(obj, 'name', path),
        type: stringField(obj, 'type', path),
        source: optionalObject(obj, 'source', path) ?? {},
        image: this.typeImage(obj, path),
        version: optionalStringMap(obj, 'version', path),
        version_from: optionalString(obj, 'version_from', path),
        params: optionalObject(obj, 'params', path),
        resource: optionalString(obj, 'resource', path),
        tags: optionalStringArray(obj, 'tags', path),
        timeout: optionalString(obj, 'timeout', path),
      });
    },
    put: (raw, path): PutPlan => {
      const obj = expectObject(raw, path);
      return compact({
        name: stringField(obj, 'name', path),
        type: stringField(obj, 'type', path),
        source: optionalObject(obj, 'source', path) ?? {},
        image: this.typeImage(obj, path),
        params: optionalObject(obj, 'params', path),
        inputs: putInputs(obj, path),
        resource: optionalString(obj, 'resource', path),
        tags: optionalStringArray(obj, 'tags', path),
        timeout: optionalString(obj, 'timeout', path),
        expose_build_created_by: optionalBoolean(obj, 'expose_build_created_by', path),
      });
    },
    check: (raw, path): CheckPlan => {
      const obj = expectObject(raw, path);
      return compact({
        name: stringField(obj, 'name', path),
        type: stringField(obj, 'type', path),
        source: optionalObject(obj, 'source', path) ?? {},
        image: this.typeImage(obj, path),
        from_version: optionalStringMap(obj, 'from_version', path),
        resource: optionalString(obj, 'resource', path),
        resource_type: optionalString(obj, 'resource_type', path),
        prototype: optionalString(obj, 'prototype', path),
        interval: optionalString(obj, 'interval', path),
        skip_interval: optionalBoolean(obj, 'skip_interval', path),
        timeout: optionalString(obj, 'timeout', path),
        tags: optionalStringArray(obj, 'tags', path),
      });
    },
    task: (raw, path): TaskPlan => {
      const obj = expectObject(raw, path);
      const config = obj['config'];
      return compact({
        name: stringField(obj, 'name', path),
        privileged: optionalBoolean(obj, 'privileged', path) ?? false,
        hermetic: optionalBoolean(obj, 'hermetic', path) ?? false,
        tags: optionalStringArray(obj, 'tags', path),
        config_path: optionalString(obj, 'config_path', path),
        config:
          config === undefined || config === null ? undefined : decodeTaskConfig(config, `${path}.config`),
        container_limits: decodeContainerLimits(obj, path),
        image: optionalString(obj, 'image', path),
        vars: optionalObject(obj, 'vars', path),
        params: decodeTaskEnv(obj, 'params', path),
        input_mapping: optionalStringMap(obj, 'input_mapping', path),
        output_mapping: optionalStringMap(obj, 'output_mapping', path),
        timeout: optionalString(obj, 'timeout', path),
        resource_types: this.resourceTypes(obj, path),
        check_skip_interval: optionalBoolean(obj, 'check_skip_interval', path),
      });
    },
    run: (raw, path) => {
      const obj = expectObject(raw, path);
      return compact({
        message: stringField(obj, 'message', path),
        type: stringField(obj, 'type', path),
        object: optionalObject(obj, 'object', path),
        privileged: optionalBoolean(obj, 'privileged', path) ?? false,
        tags: optionalStringArray(obj, 'tags', path),
        container_limits: decodeContainerLimits(obj, path),
        timeout: optionalString(obj, 'timeout', path),
      });
    },
    set_pipeline: (raw, path) => {
      const obj = expectObject(raw, path);
      return compact({
        name: stringField(obj, 'name', path),
        file: stringField(obj, 'file', path),
        team: optionalString(obj, 'team', path),
        vars: optionalObject(obj, 'vars', path),
        var_files: optionalStringArray(obj, 'var_files', path),
        instance_vars: optionalObject(obj, 'instance_vars', path),
      });
    },
    load_var: (raw, path) => {
      const obj = expectObject(raw, path);
      return compact({
        name: stringField(obj, 'name', path),
        file: stringField(obj, 'file', path),
        format: optionalString(obj, 'format', path),
        reveal: optionalBoolean(obj, 'reveal', path),
      });
    },
    do: (raw, path) => this.plans(raw, path),
    in_parallel: (raw, path): InParallelPlan => {
      const obj = expectObject(raw, path);
      return compact({
        steps: this.plans(obj['steps'], `${path}.steps`),
        limit: optionalInteger(obj, 'limit', path),
        fail_fast: optionalBoolean(obj, 'fail_fast', path),
      });
    },
    across: (raw, path): AcrossPlan => {
      const obj = expectObject(raw, path);
      const vars = (optionalArray(obj, 'vars', path) ?? []).map((rawVar, i) => {
        const at = `${path}.vars[${i}]`;
        const acrossVar = expectObject(rawVar, at);
        const maxInFlight = acrossVar['max_in_flight'];
        if (maxInFlight !== undefined && maxInFlight !== null && maxInFlight !== 'all') {
          if (typeof maxInFlight !== 'number' || !Number.isInteger(maxInFlight)) {
            throw new DecodeError(
              `${at}.max_in_flight`,
              `invalid max_in_flight ${JSON.stringify(maxInFlight)}`,
            );
          }
        }
        return compact({
          name: stringField(acrossVar, 'name', at),
          values: acrossVar['values'] ?? undefined,
          max_in_flight: (maxInFlight ?? undefined) as 'all' | number | undefined,
        });
      });
      return compact({
        vars,
        substep_template: stringField(obj, 'substep_template', path),
        fail_fast: optionalBoolean(obj, 'fail_fast', path),
      });
    },
    on_success: this.hook('on_success'),
    on_failure: this.hook('on_failure'),
    on_abort: this.hook('on_abort'),
    on_error: this.hook('on_error'),
    ensure: this.hook('ensure'),
    try: (raw, path) => ({ step: this.requiredPlan(expectObject(raw, path), 'step', path) }),
    timeout: (raw, path) => {
      const obj = expectObject(raw, path);
      return { step: this.requiredPlan(obj, 'step', path), duration: stringField(obj, 'duration', path) };
    },
    retry: (raw, path) => this.plans(raw, path),
    artifact_input: (raw, path) => {
      const obj = expectObject(raw, path);
      return {
        artifact_id: optionalInteger(obj, 'artifact_id', path) ?? 0,
        name: stringField(obj, 'name', path),
      };
    },
    artifact_output: (raw, path) => ({ name: stringField(expectObject(raw, path), 'name', path) }),
    dependent_get: (raw, path) => {
      const obj = expectObject(raw, path);
      return compact({
        type: stringField(obj, 'type', path),
        name: optionalString(obj, 'name', path),
        resource: stringField(obj, 'resource', path),
      });
    },
  };
}

/** A put's `inputs`: "all", "detect", or a list of artifact names (Concourse trims them). */
function putInputs(obj: JsonObject, path: string): PutPlan['inputs'] {
  const inputs = obj['inputs'];
  if (inputs === undefined || inputs === null) return undefined;
  if (inputs === 'all' || inputs === 'detect') return inputs;
  if (Array.isArray(inputs)) {
    return inputs.map((input, i) => {
      if (typeof input !== 'string')
        throw new DecodeError(`${path}.inputs[${i}]`, `non-string put input: ${describe(input)}`);
      return input.trim();
    });
  }
  // Go decodes any other string as neither "all" nor "detect", i.e. the default.
  if (typeof inputs === 'string') return undefined;
  throw new DecodeError(
    `${path}.inputs`,
    `expected "all", "detect" or a list of names, got ${describe(inputs)}`,
  );
}
