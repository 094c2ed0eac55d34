// What the engine needs from the build's persisted artifacts (Concourse's worker_artifacts table): uploads
// from `fly execute -i`, and the outputs `fly execute -o` downloads after the build.

/** Implemented by the web layer over its database. */
export interface ArtifactCatalog {
  /**
   * The volume of an uploaded artifact, or undefined when there is none or it belongs to another team
   * (an artifact is visible only to its own team).
   */
  lookupArtifact(artifactId: number, teamName: string): Promise<{ volumeHandle: string } | undefined>;
  /** Record a volume as the build's artifact `name` (an `artifact_output` step), for `GET /builds/:id/artifacts`. */
  registerOutput(output: { buildId: number; name: string; volumeHandle: string }): Promise<void>;
}
