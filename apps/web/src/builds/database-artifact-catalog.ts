// The engine's view of `artifacts` rows: `artifact_input` finds an upload (only the build's own team's),
// `artifact_output` records a volume as the build's named output for `fly execute -o`.
import { findArtifact, registerBuildOutputArtifact, type Database, type Kysely } from '@jetbridge/db';
import type { ArtifactCatalog } from '@jetbridge/exec';

export class DatabaseArtifactCatalog implements ArtifactCatalog {
  constructor(private readonly db: Kysely<Database>) {}

  async lookupArtifact(artifactId: number, teamName: string): Promise<{ volumeHandle: string } | undefined> {
    const artifact = await findArtifact(this.db, artifactId);
    if (artifact === undefined || artifact.teamName !== teamName) return undefined;
    return { volumeHandle: artifact.volumeHandle };
  }

  async registerOutput(output: { buildId: number; name: string; volumeHandle: string }): Promise<void> {
    await registerBuildOutputArtifact(this.db, output);
  }
}
