// The artifacts a running build has produced so far, by name (Concourse's build.Repository): what get steps
// fetched, task outputs, fly execute inputs. Steps look their inputs up here.
import type { Volume } from '@jetbridge/runtime';

export class BuildArtifactRepository {
  private readonly artifacts = new Map<string, Volume>();

  /** Make `volume` the artifact called `name`; a later registration under the same name wins. */
  register(name: string, volume: Volume): void {
    this.artifacts.set(name, volume);
  }

  lookup(name: string): Volume | undefined {
    return this.artifacts.get(name);
  }

  names(): string[] {
    return [...this.artifacts.keys()];
  }
}
