// A job's next-build inputs (Concourse's atc/scheduler/algorithm compute.go + resolver.go): one resolver per
// input without `passed` (pinned or latest/every), one per group of `passed` inputs sharing upstream jobs;
// then which chosen versions the job never used (first occurrences).
import {
  findFirstOccurrences,
  type AlgorithmInputConfig,
  type Database,
  type Kysely,
  type VersionJson,
} from '@jetbridge/db';
import { GroupResolver } from './group-resolver.js';
import { IndividualResolver } from './individual-resolver.js';
import { PinnedResolver } from './pinned-resolver.js';
import { ResolveFailure, type Resolver } from './resolution.js';

/** One input of the computed mapping: a version, or why there is none. */
export interface InputMappingEntry {
  input: AlgorithmInputConfig;
  versionSha256: string | null;
  resolveError: string | null;
  /** No build of the job used this version for this input yet. */
  firstOccurrence: boolean;
  /** Upstream builds that vouched for the version (`passed`). */
  passedBuildIds: number[];
}

export interface ComputedInputs {
  /** In input-name order. */
  entries: InputMappingEntry[];
  /** Every input has a version. */
  resolved: boolean;
  /** A `version: every` input has more to process: schedule the job again. */
  hasNext: boolean;
}

/** Inputs whose passed jobs overlap, transitively, end up in one group (resolved together). */
export function groupByPassedJobs(inputs: readonly AlgorithmInputConfig[]): AlgorithmInputConfig[][] {
  const groups: Array<{ jobs: Set<number>; inputs: AlgorithmInputConfig[] }> = [];
  for (const input of inputs) {
    const overlapping = groups.filter((group) => input.passed.some((job) => group.jobs.has(job)));
    const merged = { jobs: new Set(input.passed), inputs: [] as AlgorithmInputConfig[] };
    for (const group of overlapping) {
      for (const job of group.jobs) merged.jobs.add(job);
      merged.inputs.push(...group.inputs);
      groups.splice(groups.indexOf(group), 1);
    }
    merged.inputs.push(input);
    groups.push(merged);
  }
  const order = new Map(inputs.map((input, index) => [input, index]));
  return groups.map((group) => group.inputs.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0)));
}

export function constructResolvers(
  db: Kysely<Database>,
  inputs: readonly AlgorithmInputConfig[],
): Resolver[] {
  const resolvers: Resolver[] = [];
  for (const input of inputs) {
    if (input.passed.length > 0) continue;
    const pinned = input.pinnedVersion;
    resolvers.push(
      pinned !== null
        ? new PinnedResolver(db, { ...input, pinnedVersion: pinned as VersionJson })
        : new IndividualResolver(db, input),
    );
  }
  for (const group of groupByPassedJobs(inputs.filter((input) => input.passed.length > 0))) {
    resolvers.push(new GroupResolver(db, group));
  }
  return resolvers;
}

/** Resolve every input of the job (`Algorithm.Compute`). */
export async function computeInputs(
  db: Kysely<Database>,
  jobId: number,
  inputs: readonly AlgorithmInputConfig[],
): Promise<ComputedInputs> {
  const byName = new Map<string, InputMappingEntry>();
  let resolved = true;
  let hasNext = false;
  for (const resolver of constructResolvers(db, inputs)) {
    const resolution = await resolver.resolve();
    for (const input of resolver.inputs) {
      const chosen = resolution.resolved ? resolution.versions.get(input.name) : undefined;
      if (!chosen) {
        resolved = false;
        byName.set(input.name, {
          input,
          versionSha256: null,
          resolveError: resolution.resolved ? ResolveFailure.versionNotFound : resolution.reason,
          firstOccurrence: false,
          passedBuildIds: [],
        });
        continue;
      }
      hasNext ||= chosen.hasNext;
      byName.set(input.name, {
        input,
        versionSha256: chosen.versionSha256,
        resolveError: null,
        firstOccurrence: false,
        passedBuildIds: chosen.passedBuildIds,
      });
    }
  }
  const entries = inputs.flatMap((input) => byName.get(input.name) ?? []);
  const firsts = await findFirstOccurrences(
    db,
    jobId,
    entries.flatMap((entry) =>
      entry.versionSha256 === null
        ? []
        : [
            {
              name: entry.input.name,
              resourceId: entry.input.resourceId,
              versionSha256: entry.versionSha256,
            },
          ],
    ),
  );
  for (const entry of entries) entry.firstOccurrence = firsts.has(entry.input.name);
  return { entries, resolved, hasNext };
}
