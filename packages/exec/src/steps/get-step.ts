// The get step (atc/exec/get_step.go): fetch exactly the plan's version (or the version a put/check stored,
// `version_from`) by running the type's `in` into a fresh volume, registered as the artifact `name`.
//
// Events, in Concourse's order: initialize-get → start-get → selected-worker → log (stderr)… → finish-get
// 5.1 with the version and metadata. `in` exiting non-zero fails the step (finish-get with that exit status
// and a null version); invalid output, a null version, an unknown type or undefined vars error it. A timeout
// fails it with an `error` "timeout exceeded". Resource caches are not kept: every get runs `in`.
import type { GetPlan, PlanOf, Version } from '@jetbridge/plan';
import { finishGetEvent, initializeGetEvent, startGetEvent, type EventOrigin } from '../events.js';
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

/** `version_from` names a step that stored no version (Concourse's ErrResultMissing). */
export class VersionMissingError extends StepError {
  constructor(stepName: string) {
    super('version is missing from previous step', stepName);
    this.name = 'VersionMissingError';
  }
}

/** What a get stores as its plan's result. */
export interface GetResult {
  name: string;
  version: Version;
}

export class GetStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: GetPlan,
    private readonly attempts: readonly number[],
    private readonly buildStatus: HookBuildStatus | undefined,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    const plan = this.plan;
    const name = plan.name ?? plan.resource ?? '';
    // Fetched before a restart: its volume, version and metadata as recorded, nothing run or emitted again.
    const replayed = await replayStep(state, this.planId, name);
    if (replayed !== undefined) return replayed.succeeded;
    // Its `in` ended while no web node watched (collected after a restart): not run again, finished here.
    const collected = await collectedResourceRun(state, this.planId, name);
    if (collected === undefined) await state.emit(initializeGetEvent(state.now(), origin));

    const source = await interpolate(plan.source ?? {}, state.vars.lookup, { expectAllKeys: true });
    const params = await interpolate(plan.params ?? {}, state.vars.lookup, { expectAllKeys: true });
    const executables = await resolveResourceType(
      state.resourceTypes,
      plan.type,
      plan.image ?? {},
      imageResolveContext(state),
    );
    const version = this.version(state, name);
    const timeoutMs = stepTimeoutMs(plan.timeout, state.defaultTimeouts.get, name);

    if (collected === undefined) await state.emit(startGetEvent(state.now(), origin));
    const volume =
      collected?.volumes.get(name) ??
      (await state.worker.createVolume({
        owner: { kind: 'step', buildId: state.build.id, stepName: name },
        teamName: state.build.teamName,
        type: 'resource',
      }));
    const invocation = scriptInvocation(executables, 'in', 'get');
    const result =
      collected ??
      (await runInResourceContainer(state, {
        planId: this.planId,
        container: {
          kind: 'get',
          stepName: name,
          attempts: this.attempts,
          executables,
          env: resourceStepEnv(state.build, {
            externalUrl: state.externalUrl,
            buildStatus: this.buildStatus,
          }),
          mounts: [{ volume, path: resourcesDir('get') }],
          tags: plan.tags,
          resourceName: plan.resource,
        },
        invocation,
        request: resourceRequest(source, params, version),
        timeoutMs,
        signal,
        artifacts: { [name]: volume.handle },
      }));
    const failed = () =>
      journalWrite(state, (journal) => journal.finish(this.planId, { succeeded: false, artifacts: {} }));
    if (result === undefined) {
      await failed();
      return false;
    }
    if (result.exitStatus !== 0) {
      await state.emit(finishGetEvent(state.now(), origin, result.exitStatus));
      await failed();
      return false;
    }

    const fetched = decodeVersionResult(result.stdout, invocation);
    state.storeResult(this.planId, { name, version: fetched.version } satisfies GetResult);
    state.artifacts.register(name, volume);
    if (plan.resource !== undefined && plan.resource !== '') {
      try {
        await state.recorder.onGetVersion?.({
          planId: this.planId,
          name,
          resourceName: plan.resource,
          type: plan.type,
          source,
          ...fetched,
        });
      } catch (error) {
        // Concourse only logs a failure to update the version's metadata.
        state.logger.error(
          { buildId: state.build.id, step: name, err: String(error) },
          'failed to record a fetched version',
        );
      }
    }
    // [v8.1+] the metadata becomes `((.:<name>.<key>))`, not redacted.
    state.vars.addLocalVar(name, Object.fromEntries(fetched.metadata.map((m) => [m.name, m.value])), false);
    await state.emit(finishGetEvent(state.now(), origin, 0, fetched));
    await journalWrite(state, (journal) =>
      journal.finish(this.planId, {
        succeeded: true,
        artifacts: { [name]: volume.handle },
        result: { name, version: fetched.version } satisfies GetResult,
        metadata: { name, fields: fetched.metadata },
      }),
    );
    return true;
  }

  /** The plan's version, the stored result of `version_from`, or none (NewVersionSourceFromPlan). */
  private version(state: RunState, name: string): Version | undefined {
    if (this.plan.version !== undefined) return this.plan.version;
    if (this.plan.version_from === undefined) return undefined;
    const stored = state.result(this.plan.version_from);
    if (!isVersion(stored)) throw new VersionMissingError(name);
    return stored;
  }
}

function isVersion(value: unknown): value is Version {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((field) => typeof field === 'string')
  );
}

export function getStep(plan: PlanOf<'get'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new GetStep(plan.id, plan.get, attempts, builder.buildStatus);
}
