// Why a pending job build has not started (Concourse's `build.Preparation`, concourse-api.md §2.6): the
// pipeline or job is paused, the max-in-flight gate refused it, or inputs are missing (with the reasons the
// scheduler recorded when it last resolved the job's inputs).
import { findBuildPreparationState, type Database, type Kysely } from '@jetbridge/db';

export type PreparationStatus = 'unknown' | 'blocking' | 'not_blocking';

export interface BuildPreparation {
  buildId: number;
  pausedPipeline: PreparationStatus;
  pausedJob: PreparationStatus;
  maxRunningBuilds: PreparationStatus;
  /** Per input name. */
  inputs: Record<string, PreparationStatus>;
  inputsSatisfied: PreparationStatus;
  /** Per blocking input name: why. */
  missingInputReasons: Record<string, string>;
}

/** Concourse's wording for inputs blocking a build without a resolve error of their own. */
export const MissingInputReason = {
  notInResolvedCandidates: 'input is not included in resolved candidates',
  checkNotFinished: 'checking for latest available versions',
} as const;

const status = (blocking: boolean): PreparationStatus => (blocking ? 'blocking' : 'not_blocking');

/** Undefined when the build does not exist. Builds that are not pending job builds block on nothing. */
export async function findBuildPreparation(
  db: Kysely<Database>,
  buildId: number,
): Promise<BuildPreparation | undefined> {
  const state = await findBuildPreparationState(db, buildId);
  if (!state) return undefined;
  const preparation: BuildPreparation = {
    buildId,
    pausedPipeline: 'not_blocking',
    pausedJob: 'not_blocking',
    maxRunningBuilds: 'not_blocking',
    inputs: {},
    inputsSatisfied: 'not_blocking',
    missingInputReasons: {},
  };
  if (state.jobId === null || state.status !== 'pending') return preparation;

  preparation.pausedPipeline = status(state.pipelinePaused);
  preparation.pausedJob = status(state.jobPaused);
  preparation.maxRunningBuilds = status(state.maxInFlightReached);
  const next = new Map(state.nextInputs.map((input) => [input.name, input]));
  const allResolved = state.nextInputs.every((input) => input.resolveError === null);
  const block = (name: string, reason: string) => {
    preparation.inputs[name] = 'blocking';
    preparation.missingInputReasons[name] = reason;
    preparation.inputsSatisfied = 'blocking';
  };
  for (const name of state.configInputNames) {
    const input = next.get(name);
    if (!input) {
      if (allResolved) block(name, MissingInputReason.notInResolvedCandidates);
    } else if (input.resolveError !== null) {
      block(name, input.resolveError);
    } else if (
      state.manuallyTriggered &&
      (input.lastCheckEndTime === null || state.createdAt > input.lastCheckEndTime)
    ) {
      // A manual trigger takes versions only from checks finished after it was created.
      block(name, MissingInputReason.checkNotFinished);
    } else {
      preparation.inputs[name] = 'not_blocking';
    }
  }
  return preparation;
}
