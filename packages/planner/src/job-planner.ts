// A job's build plan for the inputs the scheduler chose (atc/builds/planner.go). The job is `do: plan`
// wrapped in its hooks; each step becomes a plan node, children before their parent (ids are taken in that
// order, as Concourse's visitor does). Notable translations:
// - get: the resource's type and source (with type defaults) and the exact version resolved for the get's
//   name; a get without one fails the whole plan (VersionNotProvidedError).
// - put: followed by the implicit get of what it produced (`version_from` the put, `get_params`, same tags
//   and timeout), as `on_success(put, get)`, unless `no_get`.
// - attempts: N copies of the step (fresh ids each) under `retry`.
// - across: the sub-plan's JSON becomes the substep template.
// - leaf steps inherit tags from the job, do and in_parallel unless they set their own `[HEAD]`.
import type { Params, Plan, Source, TaskPlan, Version } from '@jetbridge/plan';
import {
  jobStepConfig,
  stepResourceName,
  type JobConfig,
  type PrototypeConfig,
  type ResourceConfig,
  type ResourceTypeConfig,
  type StepConfig,
} from '@jetbridge/pipeline-config';
import { PlanIdFactory } from './plan-ids.js';
import { UnknownPrototypeError, UnknownResourceError, VersionNotProvidedError } from './planner-errors.js';
import { mergeSource, PipelineResourceTypes } from './resource-types.js';

/** The version the scheduler chose for a get step, by the get's name. */
export interface BuildInputVersion {
  name: string;
  version: Version;
}

export interface JobPlanRequest {
  job: JobConfig;
  /** The pipeline's resources (every get and put must name one). */
  resources: readonly ResourceConfig[];
  resourceTypes?: readonly ResourceTypeConfig[];
  prototypes?: readonly PrototypeConfig[];
  /** A version for every get step of the job, hooks included. */
  inputs: readonly BuildInputVersion[];
  /** A manually triggered build re-checks custom type images regardless of their interval. */
  manuallyTriggered?: boolean;
  /** Defaults for resources of base types (`CONCOURSE_BASE_RESOURCE_TYPE_DEFAULTS`). */
  baseResourceTypeDefaults?: Readonly<Record<string, Source>>;
  /** Where plan ids come from; a fresh factory seeded with the current Unix time by default. */
  planIds?: PlanIdFactory;
}

/**
 * The plan of one build of `request.job`. Throws UnknownResourceError, UnknownPrototypeError or
 * VersionNotProvidedError when the config and inputs do not fit together.
 *
 * @example
 * const plan = planJobBuild({ job, resources, inputs: [{ name: 'repo', version: { ref: 'abc' } }] });
 */
export function planJobBuild(request: JobPlanRequest): Plan {
  const planner = new JobPlanner(request);
  return planner.visit(jobStepConfig(request.job), request.job.tags);
}

class JobPlanner {
  private readonly ids: PlanIdFactory;
  private readonly types: PipelineResourceTypes;

  constructor(private readonly request: JobPlanRequest) {
    this.ids = request.planIds ?? new PlanIdFactory();
    this.types = new PipelineResourceTypes(request.resourceTypes ?? [], request.baseResourceTypeDefaults);
  }

  /** `tags` are the ones inherited from the job or an enclosing do/in_parallel. */
  visit(step: StepConfig, tags: readonly string[] | undefined): Plan {
    switch (step.kind) {
      case 'get':
        return this.get(step, tags);
      case 'put':
        return this.put(step, tags);
      case 'task':
        return this.task(step, tags);
      case 'run': {
        const prototype = (this.request.prototypes ?? []).find((p) => p.name === step.type);
        if (prototype === undefined) throw new UnknownPrototypeError(step.type);
        const object = mergeSource(prototype.defaults, step.params);
        return {
          id: this.ids.next(),
          run: {
            message: step.message,
            type: step.type,
            ...(Object.keys(object).length > 0 ? { object } : {}),
            privileged: step.privileged === true,
            ...tagsField(effectiveTags(step.tags, tags)),
            ...(step.container_limits !== undefined ? { container_limits: step.container_limits } : {}),
            ...(step.timeout ? { timeout: step.timeout } : {}),
          },
        };
      }
      case 'set_pipeline':
        return {
          id: this.ids.next(),
          set_pipeline: {
            name: step.name,
            file: step.file ?? '',
            ...(step.team ? { team: step.team } : {}),
            ...(nonEmpty(step.vars) ? { vars: step.vars } : {}),
            ...(step.var_files !== undefined && step.var_files.length > 0
              ? { var_files: step.var_files }
              : {}),
            ...(nonEmpty(step.instance_vars) ? { instance_vars: step.instance_vars } : {}),
          },
        };
      case 'load_var':
        return {
          id: this.ids.next(),
          load_var: {
            name: step.name,
            file: step.file ?? '',
            ...(step.format ? { format: step.format } : {}),
            ...(step.reveal === true ? { reveal: true } : {}),
          },
        };
      case 'do': {
        const inner = step.tags !== undefined && step.tags.length > 0 ? step.tags : tags;
        const steps = (step.steps ?? []).map((sub) => this.visit(sub.config, inner));
        return { id: this.ids.next(), do: steps };
      }
      case 'in_parallel': {
        const inner = step.tags !== undefined && step.tags.length > 0 ? step.tags : tags;
        const steps = (step.steps ?? []).map((sub) => this.visit(sub.config, inner));
        return {
          id: this.ids.next(),
          in_parallel: {
            steps,
            ...(step.limit ? { limit: step.limit } : {}),
            ...(step.fail_fast === true ? { fail_fast: true } : {}),
          },
        };
      }
      case 'across': {
        const template = this.visit(step.step, tags);
        return {
          id: this.ids.next(),
          across: {
            vars: step.vars.map((v) => ({
              name: v.var,
              ...(v.values !== undefined && v.values !== null ? { values: v.values } : {}),
              ...(v.max_in_flight !== undefined ? { max_in_flight: v.max_in_flight } : {}),
            })),
            substep_template: JSON.stringify(template),
            ...(step.fail_fast === true ? { fail_fast: true } : {}),
          },
        };
      }
      case 'try': {
        const inner = this.visit(step.step.config, tags);
        return { id: this.ids.next(), try: { step: inner } };
      }
      case 'timeout': {
        const inner = this.visit(step.step, tags);
        return { id: this.ids.next(), timeout: { duration: step.duration, step: inner } };
      }
      case 'retry': {
        const attempts: Plan[] = [];
        for (let i = 0; i < step.attempts; i++) attempts.push(this.visit(step.step, tags));
        return { id: this.ids.next(), retry: attempts };
      }
      case 'on_success': {
        const inner = this.visit(step.step, tags);
        const hook = this.visit(step.hook.config, tags);
        return { id: this.ids.next(), on_success: { step: inner, on_success: hook } };
      }
      case 'on_failure': {
        const inner = this.visit(step.step, tags);
        const hook = this.visit(step.hook.config, tags);
        return { id: this.ids.next(), on_failure: { step: inner, on_failure: hook } };
      }
      case 'on_abort': {
        const inner = this.visit(step.step, tags);
        const hook = this.visit(step.hook.config, tags);
        return { id: this.ids.next(), on_abort: { step: inner, on_abort: hook } };
      }
      case 'on_error': {
        const inner = this.visit(step.step, tags);
        const hook = this.visit(step.hook.config, tags);
        return { id: this.ids.next(), on_error: { step: inner, on_error: hook } };
      }
      case 'ensure': {
        const inner = this.visit(step.step, tags);
        const hook = this.visit(step.hook.config, tags);
        return { id: this.ids.next(), ensure: { step: inner, ensure: hook } };
      }
    }
  }

  private resource(name: string): ResourceConfig {
    const resource = this.request.resources.find((r) => r.name === name);
    if (resource === undefined) throw new UnknownResourceError(name);
    return resource;
  }

  private get(step: Extract<StepConfig, { kind: 'get' }>, inherited: readonly string[] | undefined): Plan {
    const resourceName = stepResourceName(step);
    const resource = this.resource(resourceName);
    const input = this.request.inputs.find((candidate) => candidate.name === step.name);
    if (input === undefined) throw new VersionNotProvidedError(step.name);
    const tags = effectiveTags(step.tags, inherited);
    const id = this.ids.next();
    return {
      id,
      get: {
        name: step.name,
        type: resource.type,
        source: this.types.sourceWithDefaults(resource.type, resource.source),
        image: this.types.imageForType(id, resource.type, tags, false),
        version: { ...input.version },
        ...(nonEmpty(step.params) ? { params: step.params } : {}),
        resource: resourceName,
        ...tagsField(tags),
        ...(step.timeout ? { timeout: step.timeout } : {}),
      },
    };
  }

  private put(step: Extract<StepConfig, { kind: 'put' }>, inherited: readonly string[] | undefined): Plan {
    const resourceName = stepResourceName(step);
    const resource = this.resource(resourceName);
    const tags = effectiveTags(step.tags, inherited);
    const source = this.types.sourceWithDefaults(resource.type, resource.source);
    const skipInterval = this.request.manuallyTriggered === true;
    const putId = this.ids.next();
    const put: Plan = {
      id: putId,
      put: {
        name: step.name,
        type: resource.type,
        source,
        image: this.types.imageForType(putId, resource.type, tags, skipInterval),
        ...(nonEmpty(step.params) ? { params: step.params } : {}),
        ...(step.inputs !== undefined && step.inputs !== '' ? { inputs: step.inputs } : {}),
        resource: resourceName,
        ...tagsField(tags),
        ...(step.timeout ? { timeout: step.timeout } : {}),
        ...(resource.expose_build_created_by === true ? { expose_build_created_by: true } : {}),
      },
    };
    if (step.no_get === true) return put;

    const getId = this.ids.next();
    const get: Plan = {
      id: getId,
      get: {
        name: step.name,
        type: resource.type,
        source,
        image: this.types.imageForType(getId, resource.type, tags, skipInterval),
        version_from: putId,
        ...(nonEmpty(step.get_params) ? { params: step.get_params } : {}),
        resource: resourceName,
        ...tagsField(tags),
        ...(step.timeout ? { timeout: step.timeout } : {}),
      },
    };
    return { id: this.ids.next(), on_success: { step: put, on_success: get } };
  }

  private task(step: Extract<StepConfig, { kind: 'task' }>, inherited: readonly string[] | undefined): Plan {
    const task: TaskPlan = {
      name: step.name,
      privileged: step.privileged === true,
      hermetic: step.hermetic === true,
    };
    const tags = effectiveTags(step.tags, inherited);
    if (tags !== undefined && tags.length > 0) task.tags = [...tags];
    if (step.file) task.config_path = step.file;
    if (step.config !== undefined) task.config = step.config;
    if (step.container_limits !== undefined) task.container_limits = step.container_limits;
    if (step.image) task.image = step.image;
    if (nonEmpty(step.vars)) task.vars = step.vars;
    if (nonEmpty(step.params)) task.params = step.params;
    if (nonEmpty(step.input_mapping)) task.input_mapping = step.input_mapping;
    if (nonEmpty(step.output_mapping)) task.output_mapping = step.output_mapping;
    if (step.timeout) task.timeout = step.timeout;
    const resourceTypes = this.types.toPlanResourceTypes();
    if (resourceTypes.length > 0) task.resource_types = resourceTypes;
    if (this.request.manuallyTriggered === true) task.check_skip_interval = true;
    return { id: this.ids.next(), task };
  }
}

/** A leaf step's own tags, else those inherited from its job/do/in_parallel. */
function effectiveTags(
  own: readonly string[] | undefined,
  inherited: readonly string[] | undefined,
): readonly string[] | undefined {
  return own !== undefined && own.length > 0 ? own : inherited;
}

function tagsField(tags: readonly string[] | undefined): { tags?: string[] } {
  return tags !== undefined && tags.length > 0 ? { tags: [...tags] } : {};
}

function nonEmpty<T extends Params | Record<string, string>>(value: T | undefined): value is T {
  return value !== undefined && value !== null && Object.keys(value).length > 0;
}
