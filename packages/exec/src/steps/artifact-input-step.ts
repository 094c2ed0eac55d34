// `artifact_input` (atc/exec/artifact_input_step.go): a `fly execute -i` upload becomes the build's artifact
// `name`. Emits no events of its own.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import { StepError } from '../step-errors.js';

export class ArtifactVolumeNotFoundError extends StepError {
  constructor(artifactName: string) {
    super(`volume for worker artifact '${artifactName}' not found`, artifactName);
    this.name = 'ArtifactVolumeNotFoundError';
  }
}

export class ArtifactInputStep implements Step {
  constructor(
    private readonly artifactId: number,
    private readonly name: string,
  ) {}

  async run(state: RunState): Promise<boolean> {
    // The catalog only finds the build team's own artifacts.
    const artifact = await state.catalog.lookupArtifact(this.artifactId, state.build.teamName);
    if (artifact === undefined) throw new ArtifactVolumeNotFoundError(this.name);
    const volume = await state.worker.lookupVolume(artifact.volumeHandle);
    if (volume === undefined) throw new ArtifactVolumeNotFoundError(this.name);
    state.artifacts.register(this.name, volume);
    state.logger.debug({ artifactId: this.artifactId, handle: volume.handle }, 'registered artifact source');
    return true;
  }
}

export function artifactInputStep(plan: PlanOf<'artifact_input'>): Step {
  return new ArtifactInputStep(plan.artifact_input.artifact_id, plan.artifact_input.name);
}
