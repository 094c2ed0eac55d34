// The artifacts a running build has produced so far, by name (Concourse's build.Repository): what get steps
// fetched, task outputs, fly execute inputs. Steps look their inputs up here. An across combination gets a
// child scope: it sees the build's artifacts, and what it produces stays inside it.
import type { Volume } from '@jetbridge/runtime';

export class BuildArtifactRepository {
  private readonly artifacts = new Map<string, Volume>();

  constructor(private readonly parent?: BuildArtifactRepository) {}

  /** Make `volume` the artifact called `name`; a later registration under the same name wins. */
  register(name: string, volume: Volume): void {
    this.artifacts.set(name, volume);
  }

  lookup(name: string): Volume | undefined {
    return this.artifacts.get(name) ?? this.parent?.lookup(name);
  }

  names(): string[] {
    return [...this.entries().keys()];
  }

  /** Every visible artifact; this scope's win over the parent's. */
  entries(): Map<string, Volume> {
    const entries = this.parent?.entries() ?? new Map<string, Volume>();
    for (const [name, volume] of this.artifacts) entries.set(name, volume);
    return entries;
  }

  newLocalScope(): BuildArtifactRepository {
    return new BuildArtifactRepository(this);
  }
}
