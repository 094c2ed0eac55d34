// A pinned input without `passed`: the get step's `version: {…}` or the resource's pin (Concourse's
// pinned_resolver.go). A partial pin matches any version containing it.
import {
  findPinnedVersion,
  type AlgorithmInputConfig,
  type Database,
  type Kysely,
  type VersionJson,
} from '@jetbridge/db';
import { ResolveFailure, type Resolution, type Resolver } from './resolution.js';

export class PinnedResolver implements Resolver {
  readonly inputs: readonly AlgorithmInputConfig[];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly input: AlgorithmInputConfig & { pinnedVersion: VersionJson },
  ) {
    this.inputs = [input];
  }

  async resolve(): Promise<Resolution> {
    const { input } = this;
    const sha =
      input.scopeId === null
        ? undefined
        : await findPinnedVersion(this.db, input.scopeId, input.pinnedVersion);
    if (sha === undefined)
      return { resolved: false, reason: ResolveFailure.pinnedVersionNotFound(input.pinnedVersion) };
    return {
      resolved: true,
      versions: new Map([[input.name, { versionSha256: sha, passedBuildIds: [], hasNext: false }]]),
    };
  }
}
