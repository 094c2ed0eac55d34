// What a resolver answers (Concourse's atc/scheduler/algorithm `versionCandidate` and db.ResolutionFailure).
import type { AlgorithmInputConfig, VersionJson } from '@jetbridge/db';

/** A version chosen for one input. */
export interface ChosenVersion {
  versionSha256: string;
  /** Upstream builds whose outputs vouched for it (`passed`); recorded as the build's pipes. */
  passedBuildIds: number[];
  /** `version: every` has yet another version (or upstream build) to process after this one. */
  hasNext: boolean;
}

/** Every input of a resolver resolved, or one reason why none of them could be. */
export type Resolution =
  { resolved: true; versions: Map<string, ChosenVersion> } | { resolved: false; reason: string };

/** Resolves a set of inputs that must be chosen together (one input, or a group sharing passed jobs). */
export interface Resolver {
  readonly inputs: readonly AlgorithmInputConfig[];
  resolve(): Promise<Resolution>;
}

/**
 * The reasons an input cannot be resolved, with Concourse's wording (the UI and `fly` users know them):
 * they end up in next_build_inputs.resolve_error and BuildPreparation's `missing_input_reasons`.
 */
export const ResolveFailure = {
  latestVersionNotFound: 'latest version of resource not found',
  versionNotFound: 'version of resource not found',
  noSatisfiableBuilds: 'no satisfiable builds from passed jobs found for set of inputs',
  pinnedVersionNotFound: (pin: VersionJson): string =>
    `pinned version${Object.keys(pin)
      .sort()
      .map((key) => ` ${key}:${pin[key] ?? ''}`)
      .join('')} not found`,
} as const;
