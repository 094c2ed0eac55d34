// `artifact_output` (atc/exec/artifact_output_step.go): the build's artifact `name` is recorded in the
// catalog so `fly execute -o` can download it after the build. Emits no events of its own.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import { StepError } from '../step-errors.js';

export class ArtifactNotFoundError extends StepError {
  constructor(artifactName: string) {
    super(`artifact '${artifactName}' not found`, artifactName);
    this.name = 'ArtifactNotFoundError';
  }
}

export class ArtifactOutputStep implements Step {
  constructor(private readonly name: string) {}

  async run(state: RunState): Promise<boolean> {
    const volume = state.artifacts.lookup(this.name);
    if (volume === undefined) throw new ArtifactNotFoundError(this.name);
    await state.catalog.registerOutput({
      buildId: state.build.id,
      name: this.name,
      volumeHandle: volume.handle,
    });
    return true;
  }
}

export function artifactOutputStep(plan: PlanOf<'artifact_output'>): Step {
  return new ArtifactOutputStep(plan.artifact_output.name);
}
