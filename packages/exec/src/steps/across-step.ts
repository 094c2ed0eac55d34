// The across step (atc/exec/across_step.go): run the substep template once per combination of the vars'
// values (the first var varies slowest). Each combination is the template with only its `((.:var))`
// references replaced, plan ids renamed `<across id>/<combination>/<n>`, run in a local scope holding the
// across vars (not redacted). Parallelism nests: each var runs up to its `max_in_flight` (default 1) of its
// values at once. The result aggregates as in_parallel, `fail_fast` included.
//
// Events: initialize → start → (a warning per shadowed local var) → across-substeps → the substeps' own → finish.
import { parsePlan, toPublicPlan, type AcrossPlan, type Plan, type PlanOf } from '@jetbridge/plan';
import {
  acrossSubstepsEvent,
  finishEvent,
  initializeEvent,
  logEvent,
  startEvent,
  type EventOrigin,
} from '../events.js';
import { runInParallel } from '../parallel-executor.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { StepError } from '../step-errors.js';
import { interpolate, type VarLookup } from '../vars/interpolate.js';
import { goTypeName, traverseVar, varReferenceToString } from '../vars/var-reference.js';

/** One combination: the substep plan and the across vars' values in it. */
interface Substep {
  plan: Plan;
  values: unknown[];
}

export class AcrossStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: AcrossPlan,
    private readonly builder: StepBuilder,
    private readonly attempts: readonly number[],
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    await state.emit(initializeEvent(state.now(), origin));
    await state.emit(startEvent(state.now(), origin));

    const vars = this.plan.vars;
    const valueLists: unknown[][] = [];
    for (const acrossVar of vars) {
      if (state.vars.hasLocalVar(acrossVar.name)) {
        const warning = `\x1b[1;33mWARNING: across step shadows local var '${acrossVar.name}'\x1b[0m\n`;
        await state.emit(logEvent(state.now(), { id: this.planId, source: 'stderr' }, warning));
      }
      valueLists.push(await this.values(acrossVar.values, state));
    }

    const substeps = await this.substeps(cartesianProduct(valueLists));
    await state.emit(
      acrossSubstepsEvent(
        state.now(),
        origin,
        substeps.map((substep) => ({ step: toPublicPlan(substep.plan), values: substep.values })),
      ),
    );

    const succeeded = await this.runVar(state, valueLists, 0, substeps, signal);
    await state.emit(finishEvent(state.now(), origin, succeeded));
    return succeeded;
  }

  /** The var's `values`, interpolated at run time; they must be a list (creds.NewList). */
  private async values(raw: unknown, state: RunState): Promise<unknown[]> {
    const values = await interpolate(raw ?? null, state.vars.lookup, { expectAllKeys: true });
    if (values === null || values === undefined) return [];
    if (!Array.isArray(values)) {
      throw new StepError(
        `error unmarshaling JSON: json: cannot unmarshal ${jsonKind(values)} into Go value of type []interface {}`,
        'across',
      );
    }
    return values;
  }

  /** ConstructAcrossSubsteps: instantiate the template for every combination. */
  private async substeps(combinations: unknown[][]): Promise<Substep[]> {
    const template: unknown = JSON.parse(this.plan.substep_template);
    const substeps: Substep[] = [];
    for (const [index, values] of combinations.entries()) {
      const locals = new Map(this.plan.vars.map((acrossVar, i) => [acrossVar.name, values[i]]));
      // Only `((.:<across var>))` is replaced; every other reference stays for the substep's own interpolation.
      const lookup: VarLookup = async (ref) => {
        if (ref.source !== '.' || !locals.has(ref.path)) return { found: false };
        const name = varReferenceToString({ ...ref, source: undefined });
        return { found: true, value: traverseVar(locals.get(ref.path), name, ref.fields) };
      };
      let plan: Plan;
      try {
        plan = parsePlan(await interpolate(template, lookup, { expectAllKeys: false }));
      } catch (error) {
        throw new StepError(`failed to interpolate template: ${(error as Error).message}`, 'across', {
          cause: error,
        });
      }
      substeps.push({ plan: renumber(plan, `${this.planId}/${index}`), values });
    }
    return substeps;
  }

  /** The substeps for values of var `varIndex` onwards, `max_in_flight` of this var's values at a time. */
  private runVar(
    state: RunState,
    valueLists: unknown[][],
    varIndex: number,
    substeps: Substep[],
    signal: AbortSignal,
  ): Promise<boolean> {
    const acrossVar = this.plan.vars[varIndex];
    const isLast = varIndex === this.plan.vars.length - 1;
    const perValue = valueLists.slice(varIndex + 1).reduce((product, values) => product * values.length, 1);
    const count = isLast ? substeps.length : (valueLists[varIndex]?.length ?? 0);
    const maxInFlight = acrossVar?.max_in_flight;
    return runInParallel({
      count,
      limit: maxInFlight === 'all' ? count : Math.max(maxInFlight ?? 1, 1),
      failFast: this.plan.fail_fast ?? false,
      signal,
      run: (index, scoped) => {
        if (!isLast) {
          const slice = substeps.slice(index * perValue, (index + 1) * perValue);
          return this.runVar(state, valueLists, varIndex + 1, slice, scoped);
        }
        const substep = substeps[index] as Substep;
        // Across values are public (shown in the UI): not redacted.
        const scope = state.newLocalScope();
        this.plan.vars.forEach((v, i) => scope.vars.addLocalVar(v.name, substep.values[i], false));
        return this.builder.build(substep.plan, this.attempts).run(scope, scoped);
      },
    });
  }
}

/** Every combination of one value per var, the first var varying slowest. */
export function cartesianProduct(valueLists: readonly unknown[][]): unknown[][] {
  return valueLists.reduce<unknown[][]>(
    (combinations, values) =>
      combinations.flatMap((combination) => values.map((value) => [...combination, value])),
    [[]],
  );
}

/**
 * Give every node of a substep the id `<prefix>/<n>` in Plan.Each's order, and point `version_from` at the
 * renamed node when it is inside the substep.
 */
function renumber(plan: Plan, prefix: string): Plan {
  const renamed = new Map<string, string>();
  let counter = 0;
  eachPlan(plan, (node) => {
    const id = `${prefix}/${counter++}`;
    renamed.set(node.id, id);
    node.id = id;
  });
  eachPlan(plan, (node) => {
    if ('get' in node && node.get.version_from !== undefined) {
      node.get.version_from = renamed.get(node.get.version_from) ?? node.get.version_from;
    }
  });
  return plan;
}

/** atc.Plan.Each: a node, then the nodes inside it (not those of a nested across's template). */
function eachPlan(plan: Plan, visit: (plan: Plan) => void): void {
  visit(plan);
  const children: Array<Plan | undefined> = [];
  if ('do' in plan) children.push(...plan.do);
  if ('in_parallel' in plan) children.push(...plan.in_parallel.steps);
  if ('on_success' in plan) children.push(plan.on_success.step, plan.on_success.on_success);
  if ('on_failure' in plan) children.push(plan.on_failure.step, plan.on_failure.on_failure);
  if ('on_abort' in plan) children.push(plan.on_abort.step, plan.on_abort.on_abort);
  if ('on_error' in plan) children.push(plan.on_error.step, plan.on_error.on_error);
  if ('ensure' in plan) children.push(plan.ensure.step, plan.ensure.ensure);
  if ('try' in plan) children.push(plan.try.step);
  if ('timeout' in plan) children.push(plan.timeout.step);
  if ('retry' in plan) children.push(...plan.retry);
  for (const kind of ['get', 'put', 'check'] as const) {
    if (kind in plan) {
      const image = (plan as PlanOf<typeof kind>)[kind].image;
      children.push(image?.check_plan, image?.get_plan);
    }
  }
  for (const child of children) if (child !== undefined) eachPlan(child, visit);
}

function jsonKind(value: unknown): string {
  const type = goTypeName(value);
  return type === 'map[string]interface {}'
    ? 'object'
    : type === 'int' || type === 'float64'
      ? 'number'
      : type;
}

export function acrossStep(plan: PlanOf<'across'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new AcrossStep(plan.id, plan.across, builder, attempts);
}
