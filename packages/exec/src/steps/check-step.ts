// The check step (atc/exec/check_step.go): run the type's `check` from the plan's `from_version` (else the
// latest version the resource config has), and hand the versions it found, oldest first, to the recorder.
// Whether a check is due (intervals, check-build locks) is the scheduler's concern: a check plan always runs.
//
// Events, in Concourse's order: initialize-check → selected-worker → start → log (stderr)… → finish.
// `check` exiting non-zero fails the step (finish with succeeded false); invalid output, an unknown type
// and undefined vars error it; a timeout fails it with an `error` "timeout exceeded".
import type { CheckPlan, PlanOf, Version } from '@jetbridge/plan';
import type { ResourceConfigRef } from '../build-recorder.js';
import { finishEvent, initializeCheckEvent, startEvent, type EventOrigin } from '../events.js';
import { runInResourceContainer } from '../resource-container.js';
import { decodeCheckOutput, resourceRequest, scriptInvocation } from '../resource-script.js';
import { imageResolveContext, resolveResourceType } from '../resource-type-resolver.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { resourceStepEnv, type HookBuildStatus } from '../step-env.js';
import { StepError } from '../step-errors.js';
import { collectedResourceRun, journalWrite, replayStep } from '../step-journal.js';
import { stepTimeoutMs } from '../step-timeout.js';
import { interpolate } from '../vars/interpolate.js';

export class CheckStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: CheckPlan,
    private readonly attempts: readonly number[],
    private readonly buildStatus: HookBuildStatus | undefined,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    const plan = this.plan;
    // Done before a restart: its latest version as recorded, nothing run or emitted again.
    const replayed = await replayStep(state, this.planId, plan.name);
    if (replayed !== undefined) return replayed.succeeded;
    // Its `check` ended while no web node watched (collected after a restart): not run again, finished here.
    const collected = await collectedResourceRun(state, this.planId, plan.name);
    if (collected === undefined) await state.emit(initializeCheckEvent(state.now(), origin, plan.name));

    let source;
    try {
      source = await interpolate(plan.source ?? {}, state.vars.lookup, { expectAllKeys: true });
    } catch (error) {
      throw new StepError(`resource config creds evaluation: ${(error as Error).message}`, plan.name, {
        cause: error,
      });
    }
    const executables = await resolveResourceType(
      state.resourceTypes,
      plan.type,
      plan.image ?? {},
      imageResolveContext(state),
    );
    const config: ResourceConfigRef = {
      planId: this.planId,
      name: plan.name,
      ...(plan.resource ? { resourceName: plan.resource } : {}),
      ...(plan.resource_type ? { resourceTypeName: plan.resource_type } : {}),
      type: plan.type,
      source,
    };
    const fromVersion: Version | undefined =
      plan.from_version ?? (await state.recorder.latestCheckedVersion?.(config));
    const timeoutMs = stepTimeoutMs(plan.timeout, state.defaultTimeouts.check, plan.name);

    const result =
      collected ??
      (await runInResourceContainer(state, {
        planId: this.planId,
        container: {
          kind: 'check',
          stepName: plan.name,
          attempts: this.attempts,
          executables,
          env: resourceStepEnv(state.build, {
            externalUrl: state.externalUrl,
            buildStatus: this.buildStatus,
          }),
          mounts: [],
          tags: plan.tags,
          resourceName: plan.resource,
        },
        invocation: scriptInvocation(executables, 'check', 'check'),
        request: resourceRequest(source, undefined, fromVersion),
        timeoutMs,
        signal,
        beforeRun: () => state.emit(startEvent(state.now(), origin)),
      }));
    const failed = () =>
      journalWrite(state, (journal) => journal.finish(this.planId, { succeeded: false, artifacts: {} }));
    if (result === undefined) {
      await failed();
      return false;
    }
    if (result.exitStatus !== 0) {
      await state.emit(finishEvent(state.now(), origin, false));
      await failed();
      return false;
    }

    let versions: Version[];
    try {
      versions = decodeCheckOutput(result.stdout);
    } catch (error) {
      throw new StepError(`run check: ${(error as Error).message}`, plan.name, { cause: error });
    }
    try {
      await state.recorder.onCheckVersions?.({ ...config, versions });
    } catch (error) {
      throw new StepError(`save versions: ${(error as Error).message}`, plan.name, { cause: error });
    }
    const latest = versions.at(-1);
    if (latest !== undefined) state.storeResult(this.planId, latest);
    await state.emit(finishEvent(state.now(), origin, true));
    await journalWrite(state, (journal) =>
      journal.finish(this.planId, {
        succeeded: true,
        artifacts: {},
        ...(latest === undefined ? {} : { result: latest }),
      }),
    );
    return true;
  }
}

export function checkStep(plan: PlanOf<'check'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new CheckStep(plan.id, plan.check, attempts, builder.buildStatus);
}
