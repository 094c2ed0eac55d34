// Inputs with `passed` constraints that share upstream jobs, resolved together (Concourse's
// group_resolver.go): a depth-first search over the upstream jobs' succeeded builds.
//
// The search, as Concourse runs it: take the first (input, passed job) pair, in input-name then job-id order,
// that no build has vouched for yet; walk that job's succeeded builds newest first (reruns at their original's
// position); a build vouches for every group input that lists this job, giving each its version of the input's
// resource (or, for an input already holding a version, the build must contain that version). Then recurse;
// on a dead end, undo and try the next build. Versions are skipped when disabled, outside the resource's
// current scope, or other than the input's pin. So an input's version went through each of its passed jobs,
// and inputs sharing a passed job got their versions from the same build of it.
//
// `version: every` with `passed` walks the upstream builds newer than the ones its last build used, oldest
// first, before falling back to those and older ones, so each upstream build is processed in turn.
//
// What makes it fast: the walk is paged SQL (listPassedBuilds) that already drops builds that could never lead
// to a solution — missing a chosen version, yielding no usable version for the input being resolved, or
// having versions no build of another passed job has together with the versions chosen so far. The first
// build a page returns is then almost always the answer, whatever the history's length.
import {
  findLastUsedPassedBuilds,
  findPinnedVersion,
  listPassedBuilds,
  type AlgorithmInputConfig,
  type BuildCursor,
  type CompanionRequirement,
  type CompanionValue,
  type Database,
  type Kysely,
  type PassedBuildsQuery,
  type WalkedBuild,
} from '@jetbridge/db';
import { ResolveFailure, type ChosenVersion, type Resolution, type Resolver } from './resolution.js';

interface Candidate {
  versionSha256: string;
  /** Passed jobs that vouched for this version. */
  vouchedBy: ReadonlySet<number>;
  passedBuildIds: readonly number[];
  hasNext: boolean;
}

/** The next (input, passed job) pair to satisfy. */
interface Step {
  input: number;
  job: number;
}

/** Builds per page: small at first (the first build usually works), growing for long walks. */
const FIRST_PAGE_SIZE = 4;
const MAX_PAGE_SIZE = 1024;

type WalkQuery = Omit<PassedBuildsQuery, 'direction' | 'after' | 'atOrOlderThan' | 'limit'>;

export class GroupResolver implements Resolver {
  private readonly candidates: Array<Candidate | undefined>;
  private readonly pins: Array<string | null>;
  /** Per `every` input: the upstream build per passed job its last build used. */
  private readonly lastUsed = new Map<number, Map<number, BuildCursor>>();
  /** Every passed job of the group, ascending. */
  private readonly jobs: number[];

  constructor(
    private readonly db: Kysely<Database>,
    readonly inputs: readonly AlgorithmInputConfig[],
  ) {
    this.candidates = inputs.map(() => undefined);
    this.pins = inputs.map(() => null);
    this.jobs = [...new Set(inputs.flatMap((input) => input.passed))].sort((a, b) => a - b);
  }

  async resolve(): Promise<Resolution> {
    for (const [index, input] of this.inputs.entries()) {
      if (input.pinnedVersion !== null) {
        const sha =
          input.scopeId === null
            ? undefined
            : await findPinnedVersion(this.db, input.scopeId, input.pinnedVersion);
        if (sha === undefined)
          return { resolved: false, reason: ResolveFailure.pinnedVersionNotFound(input.pinnedVersion) };
        this.pins[index] = sha;
      }
      if (input.useEvery) {
        const used =
          input.scopeId === null
            ? new Map<number, BuildCursor>()
            : await findLastUsedPassedBuilds(this.db, input.jobId, input.resourceId, input.scopeId);
        this.lastUsed.set(index, new Map([...used].filter(([job]) => input.passed.includes(job))));
      }
    }
    if (!(await this.search())) return { resolved: false, reason: ResolveFailure.noSatisfiableBuilds };
    const versions = new Map<string, ChosenVersion>();
    for (const [index, input] of this.inputs.entries()) {
      const candidate = this.candidates[index];
      if (!candidate) return { resolved: false, reason: ResolveFailure.noSatisfiableBuilds };
      versions.set(input.name, {
        versionSha256: candidate.versionSha256,
        passedBuildIds: [...new Set(candidate.passedBuildIds)],
        hasNext: candidate.hasNext,
      });
    }
    return { resolved: true, versions };
  }

  private async search(): Promise<boolean> {
    const step = this.nextStep();
    if (!step) return true;
    // Builds that lead to the same versions as one that already failed here fail too (Concourse's "doomed").
    const failed = new Set<string>();
    for await (const { build, hasNext } of this.walk(step)) {
      const undo = this.vouch(step, build, hasNext);
      const state = this.candidates.map((c) => c?.versionSha256 ?? '').join('|');
      if (!failed.has(state)) {
        if (await this.search()) return true;
        failed.add(state);
      }
      for (const [index, previous] of undo.reverse()) this.candidates[index] = previous;
    }
    return false;
  }

  private nextStep(): Step | undefined {
    for (const [index, input] of this.inputs.entries()) {
      const candidate = this.candidates[index];
      for (const job of input.passed) {
        if (candidate?.vouchedBy.has(job)) continue;
        if (this.isDeferred(index, job)) continue;
        return { input: index, job };
      }
    }
    return undefined;
  }

  /**
   * An `every` input that ran before through other passed jobs, but not this one, lets those jobs choose
   * first, so it continues where they left off rather than from the newest build.
   */
  private isDeferred(input: number, job: number): boolean {
    const used = this.lastUsed.get(input);
    return used !== undefined && this.candidates[input] === undefined && used.size > 0 && !used.has(job);
  }

  /** The group inputs a build of `job` vouches for, in input order. */
  private relatedTo(job: number): number[] {
    return this.inputs.flatMap((input, index) => (input.passed.includes(job) ? [index] : []));
  }

  private async *walk(step: Step): AsyncGenerator<{ build: WalkedBuild; hasNext: boolean }> {
    const query = this.walkQuery(step);
    if (!query) return;
    const lastUsed = this.lastUsed.get(step.input)?.get(step.job);
    if (lastUsed) {
      yield* this.pages(query, 'oldest-first', { after: lastUsed }, true);
      yield* this.pages(query, 'newest-first', { atOrOlderThan: lastUsed }, false);
    } else {
      yield* this.pages(query, 'newest-first', {}, false);
    }
  }

  /**
   * Walk one direction page by page. `unused` marks builds newer than the ones last used: `hasNext` then
   * says whether another such build follows (the job is scheduled again to process it).
   */
  private async *pages(
    query: WalkQuery,
    direction: PassedBuildsQuery['direction'],
    bounds: { after?: BuildCursor; atOrOlderThan?: BuildCursor },
    unused: boolean,
  ): AsyncGenerator<{ build: WalkedBuild; hasNext: boolean }> {
    let limit = FIRST_PAGE_SIZE;
    const fetch = (after: BuildCursor | undefined, size: number) =>
      listPassedBuilds(this.db, {
        ...query,
        direction,
        limit: size,
        ...(after ? { after } : {}),
        ...(bounds.atOrOlderThan ? { atOrOlderThan: bounds.atOrOlderThan } : {}),
      });
    let page = await fetch(bounds.after, limit);
    while (page.length > 0) {
      const full = page.length === limit;
      const last = page[page.length - 1];
      const nextLimit = Math.min(limit * 4, MAX_PAGE_SIZE);
      let next: WalkedBuild[] | undefined;
      for (const [position, build] of page.entries()) {
        let hasNext = false;
        if (unused) {
          if (position < page.length - 1) hasNext = true;
          else if (full) {
            next = await fetch(last, nextLimit);
            hasNext = next.length > 0;
          }
        }
        yield { build, hasNext };
      }
      if (!full) return;
      page = next ?? (await fetch(last, nextLimit));
      limit = nextLimit;
    }
  }

  /** The SQL side of a step: what walked builds must yield, and what other jobs must have together. */
  private walkQuery(step: Step): WalkQuery | undefined {
    const related = this.relatedTo(step.job);
    const slots = related.map((index) => {
      const input = this.inputs[index]!;
      return {
        resourceId: input.resourceId,
        scopeId: input.scopeId,
        pinnedSha: this.pins[index] ?? null,
        chosenSha: this.candidates[index]?.versionSha256 ?? null,
      };
    });
    const requiredSlot = related.indexOf(step.input);
    const required = slots[requiredSlot];
    if (!required || (required.chosenSha === null && required.scopeId === null)) return undefined;

    const companions: CompanionRequirement[] = [];
    for (const job of this.jobs) {
      if (job === step.job) continue;
      const jobInputs = this.relatedTo(job);
      if (jobInputs.every((index) => this.candidates[index]?.vouchedBy.has(job))) continue;
      const entries = jobInputs.flatMap((index): Array<{ resourceId: number; value: CompanionValue }> => {
        const resourceId = this.inputs[index]!.resourceId;
        const candidate = this.candidates[index];
        if (candidate) return [{ resourceId, value: { sha: candidate.versionSha256 } }];
        const slot = related.indexOf(index);
        return slot === -1 ? [] : [{ resourceId, value: { slot } }];
      });
      // Fixed versions alone are the same for every walked build: the later step on `job` judges them.
      if (!entries.some((entry) => 'slot' in entry.value)) continue;
      const driver =
        entries.find((entry) => 'sha' in entry.value) ??
        entries.find((entry) => 'slot' in entry.value && entry.value.slot === requiredSlot);
      if (!driver) continue;
      companions.push({ jobId: job, driver, others: entries.filter((entry) => entry !== driver) });
    }
    return { jobId: step.job, slots, requiredSlot, companions };
  }

  /** Let the build vouch for the inputs of its job; returns how to undo it. */
  private vouch(step: Step, build: WalkedBuild, hasNext: boolean): Array<[number, Candidate | undefined]> {
    const undo: Array<[number, Candidate | undefined]> = [];
    for (const [slot, index] of this.relatedTo(step.job).entries()) {
      const current = this.candidates[index];
      const sha = build.shas[slot] ?? null;
      let next: Candidate;
      if (current) {
        next = {
          versionSha256: current.versionSha256,
          vouchedBy: new Set([...current.vouchedBy, step.job]),
          passedBuildIds: [...current.passedBuildIds, build.id],
          hasNext: current.hasNext || hasNext,
        };
      } else if (sha !== null) {
        next = { versionSha256: sha, vouchedBy: new Set([step.job]), passedBuildIds: [build.id], hasNext };
      } else {
        continue;
      }
      undo.push([index, current]);
      this.candidates[index] = next;
    }
    return undo;
  }
}
