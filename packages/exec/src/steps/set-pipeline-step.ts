// The set_pipeline step (atc/exec/set_pipeline_step.go): read the pipeline file (and var files) from the
// build's artifacts and hand them to the recorder's setPipeline, which parses, validates, diffs and saves
// (the web/DB layer owns pipelines). `self` is the build's own pipeline with its instance vars.
//
// Events: initialize → start → log… → set-pipeline-changed (when the config was valid) → finish. A name or
// team with `/`, an unreadable var file, or a config the setter finds invalid fail the step; an unreadable
// pipeline file, undefined vars and setter errors error it.
import type { PlanOf, SetPipelinePlan } from '@jetbridge/plan';
import { FileNotFoundError } from '@jetbridge/runtime';
import { readArtifactFile, splitArtifactPath } from '../artifact-file.js';
import type { SetPipelineRequest } from '../build-recorder.js';
import {
  finishEvent,
  initializeEvent,
  logEvent,
  setPipelineChangedEvent,
  startEvent,
  type EventOrigin,
} from '../events.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import { StepError } from '../step-errors.js';
import { interpolate } from '../vars/interpolate.js';
import { UnknownArtifactSourceError, UnspecifiedArtifactSourceError } from './task-config-source.js';

export class SetPipelineStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly plan: SetPipelinePlan,
  ) {}

  async run(state: RunState): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    await state.emit(initializeEvent(state.now(), origin));
    // Everything but the name is interpolated (creds.NewSetPipelinePlan; the name only through across).
    const plan: SetPipelinePlan = {
      ...(await interpolate(this.plan, state.vars.lookup, { expectAllKeys: true })),
      name: this.plan.name,
    };
    const output = (source: 'stdout' | 'stderr') => (text: string) =>
      state.emit(logEvent(state.now(), { id: this.planId, source }, state.redactor.redact(text)));
    const stdout = output('stdout');
    const stderr = output('stderr');

    let pipelineName = plan.name;
    let instanceVars = plan.instance_vars;
    let teamName = plan.team === '' ? undefined : plan.team;
    if (pipelineName === 'self') {
      pipelineName = state.build.pipelineName ?? '';
      instanceVars = state.build.pipelineInstanceVars;
      // self is always the build's own team.
      teamName = undefined;
    }
    if (pipelineName.includes('/'))
      return this.fail(state, stderr, "ERROR: pipeline name cannot contain '/'\n");
    if (teamName?.includes('/')) return this.fail(state, stderr, "ERROR: team name cannot contain '/'\n");

    if (plan.file === '') throw new StepError('file is not specified', plan.name);
    const config = await this.readFile(plan.file, state);
    await state.emit(startEvent(state.now(), origin));

    // Var files are read while the config is rendered in Concourse: a missing one is a parse failure.
    const varFiles: SetPipelineRequest['varFiles'] = [];
    for (const path of plan.var_files ?? []) {
      try {
        varFiles.push({ path, content: await this.readFile(path, state) });
      } catch (error) {
        if (!(error instanceof StepError)) throw error;
        return this.fail(state, stderr, `error parsing pipeline:\n${error.message}`);
      }
    }

    const setPipeline = state.recorder.setPipeline;
    if (setPipeline === undefined)
      throw new StepError('set_pipeline is not available in this build', plan.name);
    const result = await setPipeline.call(state.recorder, {
      planId: this.planId,
      build: state.build,
      pipelineName,
      ...(teamName === undefined ? {} : { teamName }),
      ...(instanceVars === undefined ? {} : { instanceVars }),
      config,
      ...(plan.vars === undefined ? {} : { vars: plan.vars }),
      varFiles,
      stdout,
      stderr,
    });
    if ('invalid' in result) {
      await state.emit(finishEvent(state.now(), origin, false));
      return false;
    }
    await state.emit(setPipelineChangedEvent(origin, result.changed));
    await state.emit(finishEvent(state.now(), origin, true));
    return true;
  }

  private async fail(
    state: RunState,
    stderr: (text: string) => Promise<void>,
    message: string,
  ): Promise<boolean> {
    await stderr(message);
    await state.emit(finishEvent(state.now(), { id: this.planId }, false));
    return false;
  }

  /** `<artifact>/<path>` as text (setPipelineSource.fetchPipelineBits). */
  private async readFile(path: string, state: RunState): Promise<string> {
    const location = splitArtifactPath(path);
    if (location === undefined) throw new UnspecifiedArtifactSourceError(path, this.plan.name);
    const volume = state.artifacts.lookup(location.artifact);
    if (volume === undefined)
      throw new UnknownArtifactSourceError(location.artifact, location.file, this.plan.name);
    try {
      return (await readArtifactFile(volume, location.file)).toString('utf8');
    } catch (error) {
      if (error instanceof FileNotFoundError) {
        throw new StepError(
          `file '${location.file}' not found within artifact '${location.artifact}'`,
          this.plan.name,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

export function setPipelineStep(plan: PlanOf<'set_pipeline'>): Step {
  return new SetPipelineStep(plan.id, plan.set_pipeline);
}
