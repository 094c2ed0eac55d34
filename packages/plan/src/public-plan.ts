// The public plan (`GET /api/v1/builds/:id/plan`, `image-*` events, `BuildSummary.plan`): the plan with
// everything that may hold secrets (sources, params, configs, vars) left out. Mirrors atc/public_plan.go.
import { stepKindOf, type Plan, type PlanOf, type StepKind } from './plan.js';

/** A plan node reduced for the public: `{id, <step key>: <reduced body>}`. */
export interface PublicPlan {
  id?: string;
  [step: string]: unknown;
}

type Reducers = { [K in StepKind]: (plan: PlanOf<K>) => unknown };

const reducers: Reducers = {
  get: ({ get }) =>
    withOptional(
      { name: get.name ?? '', type: get.type },
      {
        resource: get.resource || undefined,
        version: get.version,
        image_get_plan: maybePublic(get.image.get_plan),
        image_check_plan: maybePublic(get.image.check_plan),
      },
    ),
  put: ({ put }) =>
    withOptional(
      { name: put.name, type: put.type },
      {
        resource: put.resource || undefined,
        image_get_plan: maybePublic(put.image.get_plan),
        image_check_plan: maybePublic(put.image.check_plan),
      },
    ),
  check: ({ check }) =>
    withOptional(
      { name: check.name, type: check.type },
      {
        image_get_plan: maybePublic(check.image.get_plan),
        image_check_plan: maybePublic(check.image.check_plan),
      },
    ),
  task: ({ task }) => ({ name: task.name, privileged: task.privileged, hermetic: task.hermetic }),
  run: ({ run }) => ({ message: run.message, type: run.type, privileged: run.privileged }),
  set_pipeline: ({ set_pipeline: sp }) => ({
    name: sp.name,
    team: sp.team ?? '',
    instance_vars: sp.instance_vars ?? null,
  }),
  load_var: ({ load_var }) => ({ name: load_var.name }),
  do: (plan) => plan.do.map(toPublicPlan),
  in_parallel: ({ in_parallel: ip }) =>
    withOptional(
      { steps: ip.steps.map(toPublicPlan) },
      { limit: ip.limit || undefined, fail_fast: ip.fail_fast || undefined },
    ),
  across: ({ across }) =>
    withOptional(
      { vars: across.vars.map((v) => ({ name: v.name })) },
      { fail_fast: across.fail_fast || undefined },
    ),
  on_success: ({ on_success: h }) => ({ step: toPublicPlan(h.step), on_success: toPublicPlan(h.on_success) }),
  on_failure: ({ on_failure: h }) => ({ step: toPublicPlan(h.step), on_failure: toPublicPlan(h.on_failure) }),
  on_abort: ({ on_abort: h }) => ({ step: toPublicPlan(h.step), on_abort: toPublicPlan(h.on_abort) }),
  on_error: ({ on_error: h }) => ({ step: toPublicPlan(h.step), on_error: toPublicPlan(h.on_error) }),
  ensure: ({ ensure: h }) => ({ step: toPublicPlan(h.step), ensure: toPublicPlan(h.ensure) }),
  try: (plan) => ({ step: toPublicPlan(plan.try.step) }),
  timeout: ({ timeout }) => ({ step: toPublicPlan(timeout.step), duration: timeout.duration }),
  retry: (plan) => plan.retry.map(toPublicPlan),
  artifact_input: ({ artifact_input: ai }) => ({ artifact_id: ai.artifact_id, name: ai.name }),
  artifact_output: ({ artifact_output: ao }) => ({ name: ao.name }),
  dependent_get: ({ dependent_get: dg }) => ({ name: dg.name ?? '', type: dg.type, resource: dg.resource }),
};

/** Reduce a plan to what anyone who may see the build may see. */
export function toPublicPlan(plan: Plan): PublicPlan {
  const kind = stepKindOf(plan);
  const reduce = reducers[kind] as (plan: Plan) => unknown;
  const publicPlan: PublicPlan = {};
  // Go's `id,omitempty`: an empty id is left out.
  if (plan.id !== '') publicPlan.id = plan.id;
  publicPlan[kind] = reduce(plan);
  return publicPlan;
}

function maybePublic(plan: Plan | undefined): PublicPlan | undefined {
  return plan === undefined ? undefined : toPublicPlan(plan);
}

function withOptional<T extends Record<string, unknown>>(
  required: T,
  optional: Record<string, unknown>,
): T & Record<string, unknown> {
  const result: Record<string, unknown> = { ...required };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) result[key] = value;
  }
  return result as T & Record<string, unknown>;
}
