// The put step (atc/exec/put_step.go): run the type's `out` with the chosen artifacts mounted at
// /tmp/build/put/<name>, and report the version it created. The implicit get that follows a put is a
// separate get plan (`version_from` this plan) that the planner adds.
//
// Events, in Concourse's order: initialize-put → selected-worker → start-put → log (stderr)… → finish-put 5.1
// with the version and metadata. `out` exiting non-zero fails the step (finish-put with that exit status and
// a null version); `input not found`, invalid output and undefined vars error it; a timeout fails it with an
// `error` "timeout exceeded".
import type { Params, PlanOf, PutPlan } from '@jetbridge/plan';
import type { Mount } from '@jetbridge/runtime';
import type { BuildArtifactRepository } from '../artifact-repository.js';
import { finishPutEvent, initializePutEvent, startPutEvent, type EventOrigin } from '../events.js';
import { runInResourceContainer } from '../resource-container.js';
import { decodeVersionResult, resourceRequest, resourcesDir, scriptInvocation } from '../resource-script.js';
import { imageResolveContext, resolveResourceType } from '../resource-type-resolver.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { resourceStepEnv, type HookBuildStatus } from '../step-env.js';
import { StepError } from '../step-errors.js';
import { collectedResourceRun, journalWrite, replayStep } from '../step-journal.js';
import { stepTimeoutMs } from '../step-timeout.js';
import { interpolate } from '../vars/interpolate.js';

/** An input listed in `inputs:` is not an artifact of the build. */
export class PutInputNotFoundError extends StepError {
  constructor(input: string, stepName: string) {
    super(`input not found: ${input}`, stepName);
    this.name = 'PutInputNotFoundError';
  }
}

export class PutStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: PutPlan,
    private readonly attempts: readonly number[],
    private readonly buildStatus: HookBuildStatus | undefined,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    const plan = this.plan;
    // Done before a restart: its version as recorded (for `version_from`), nothing run or emitted again.
    const replayed = await replayStep(state, this.planId, plan.name);
    if (replayed !== undefined) return replayed.succeeded;
    // Its `out` ended while no web node watched (collected after a restart): not run again, finished here.
    const collected = await collectedResourceRun(state, this.planId, plan.name);
    if (collected === undefined) await state.emit(initializePutEvent(state.now(), origin));

    const source = await interpolate(plan.source ?? {}, state.vars.lookup, { expectAllKeys: true });
    const params = await interpolate(plan.params ?? {}, state.vars.lookup, { expectAllKeys: true });
    const mounts = putInputs(plan, params, state.artifacts);
    const executables = await resolveResourceType(
      state.resourceTypes,
      plan.type,
      plan.image ?? {},
      imageResolveContext(state),
    );
    const timeoutMs = stepTimeoutMs(plan.timeout, state.defaultTimeouts.put, plan.name);

    const invocation = scriptInvocation(executables, 'out', 'put');
    const result =
      collected ??
      (await runInResourceContainer(state, {
        planId: this.planId,
        container: {
          kind: 'put',
          stepName: plan.name,
          attempts: this.attempts,
          executables,
          env: resourceStepEnv(state.build, {
            externalUrl: state.externalUrl,
            buildStatus: this.buildStatus,
            exposeCreatedBy: plan.expose_build_created_by,
          }),
          mounts,
          tags: plan.tags,
          resourceName: plan.resource,
        },
        invocation,
        request: resourceRequest(source, params),
        timeoutMs,
        signal,
        beforeRun: () => state.emit(startPutEvent(state.now(), origin)),
      }));
    const failed = () =>
      journalWrite(state, (journal) => journal.finish(this.planId, { succeeded: false, artifacts: {} }));
    if (result === undefined) {
      await failed();
      return false;
    }
    if (result.exitStatus !== 0) {
      await state.emit(finishPutEvent(state.now(), origin, result.exitStatus));
      await failed();
      return false;
    }

    const created = decodeVersionResult(result.stdout, invocation);
    // A put outside a pipeline resource (e.g. a one-off build's) records no build output.
    if (plan.resource !== undefined && plan.resource !== '') {
      await state.recorder.onPutVersion?.({
        planId: this.planId,
        name: plan.name,
        resourceName: plan.resource,
        type: plan.type,
        source,
        ...created,
      });
    }
    state.storeResult(this.planId, created.version);
    await state.emit(finishPutEvent(state.now(), origin, 0, created));
    await journalWrite(state, (journal) =>
      journal.finish(this.planId, { succeeded: true, artifacts: {}, result: created.version }),
    );
    return true;
  }
}

/**
 * The artifacts mounted for `out` (atc/exec/put_inputs.go): `all` of them, a list (each must exist), or by
 * default those `detect`ed in the params.
 */
function putInputs(plan: PutPlan, params: Params, artifacts: BuildArtifactRepository): Mount[] {
  // Read-only: the runtime copies (or mounts read-only) rather than handing over the artifact itself.
  const mount = (name: string, volume: Mount['volume']): Mount => ({
    volume,
    path: `${resourcesDir('put')}/${name}`,
    readOnly: true,
  });
  const inputs = plan.inputs ?? 'detect';
  if (inputs === 'all') return [...artifacts.entries()].map(([name, volume]) => mount(name, volume));
  if (inputs === 'detect') {
    const mounts = new Map<string, Mount>();
    for (const name of detectInputNames(params)) {
      const volume = artifacts.lookup(name);
      if (volume !== undefined) mounts.set(name, mount(name, volume));
    }
    return [...mounts.values()];
  }
  return inputs.map((name) => {
    const volume = artifacts.lookup(name);
    if (volume === undefined) throw new PutInputNotFoundError(name, plan.name);
    return mount(name, volume);
  });
}

/**
 * Artifact names guessed from every string in the params: the first path segment that is not `.` or `..`
 * of a string with a `/`, else the whole string.
 */
export function detectInputNames(value: unknown): string[] {
  if (typeof value === 'string') {
    const parts = value.split('/');
    if (parts.length > 1) return [parts.find((part) => part !== '.' && part !== '..') ?? value];
    return [value];
  }
  if (Array.isArray(value)) return value.flatMap(detectInputNames);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(detectInputNames);
  return [];
}

export function putStep(plan: PlanOf<'put'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new PutStep(plan.id, plan.put, attempts, builder.buildStatus);
}
