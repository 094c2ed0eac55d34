// Inputs without `passed` and without a pin: `version: latest` (the default) or `version: every`
// (Concourse's individual_resolver.go).
import {
  findLatestVersion,
  findNextEveryVersion,
  type AlgorithmInputConfig,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import { ResolveFailure, type Resolution, type Resolver } from './resolution.js';

export class IndividualResolver implements Resolver {
  readonly inputs: readonly AlgorithmInputConfig[];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly input: AlgorithmInputConfig,
  ) {
    this.inputs = [input];
  }

  async resolve(): Promise<Resolution> {
    const { input } = this;
    if (input.useEvery) {
      const next =
        input.scopeId === null
          ? undefined
          : await findNextEveryVersion(this.db, input.jobId, input.resourceId, input.scopeId);
      if (!next) return { resolved: false, reason: ResolveFailure.versionNotFound };
      return this.chosen(next.sha, next.hasNext);
    }
    const latest =
      input.scopeId === null ? undefined : await findLatestVersion(this.db, input.resourceId, input.scopeId);
    if (latest === undefined) return { resolved: false, reason: ResolveFailure.latestVersionNotFound };
    return this.chosen(latest, false);
  }

  private chosen(versionSha256: string, hasNext: boolean): Resolution {
    return {
      resolved: true,
      versions: new Map([[this.input.name, { versionSha256, passedBuildIds: [], hasNext }]]),
    };
  }
}
