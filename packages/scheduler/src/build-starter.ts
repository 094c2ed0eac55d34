// Where the scheduler hands a job build over (Concourse's buildStarter ends in `planner.Create` +
// `build.Start`): the scheduler decides WHEN a pending build starts and WITH WHICH inputs; a BuildStarter
// turns that into a plan and runs it. Implementations live with whoever runs job builds (the web node).
import type { VersionJson } from '@jetbridge/db';

/** A pending job build the scheduler is deciding about. */
export interface SchedulableBuild {
  id: number;
  /** `"1"`, `"2"`…; reruns `"<n>.<m>"`. */
  name: string;
  jobId: number;
  jobName: string;
  pipelineId: number;
  pipelineName: string;
  teamId: number;
  teamName: string;
  /** `fly trigger-job` (or the UI's + button) rather than the scheduler. */
  manuallyTriggered: boolean;
  /** The build this one reruns, with its inputs. */
  rerunOf: number | null;
  createdBy: string | null;
  createdAt: Date;
}

/** A version the build takes as an input (already recorded in build_resource_config_version_inputs). */
export interface BuildInputVersion {
  /** The get step's name. */
  name: string;
  resourceId: number;
  resourceName: string;
  version: VersionJson;
  versionSha256: string;
  /** No earlier build of the job used this version for this input. */
  firstOccurrence: boolean;
}

/** What became of a build handed to {@link BuildStarter.startBuild}. */
export type BuildStartOutcome =
  | { started: true }
  /** `errored`: the build was finished errored (e.g. its plan could not be made). */
  | { started: false; reason: string; errored: boolean };

/**
 * Starts job builds the scheduler let through. Called while the scheduler holds the job's lock, so at most
 * once at a time per job across all web nodes.
 */
export interface BuildStarter {
  /**
   * Plan the build from the job's current config and `inputs`, and start it: afterwards the build should
   * have left `pending` — `started`, or finished `errored` when no plan could be made (as Concourse does).
   * A build still pending is offered again on the job's next scheduling. Throwing means "could not decide
   * now": the scheduler logs it and retries the job on its next tick.
   */
  startBuild(build: SchedulableBuild, inputs: readonly BuildInputVersion[]): Promise<BuildStartOutcome>;
  /**
   * Finish a pending build that will never start as `aborted` (an abort was asked for, or its pipeline was
   * archived), with the status event its watchers wait for. Without it the scheduler only sets the status.
   */
  abortPendingBuild?(build: SchedulableBuild): Promise<void>;
}

/**
 * Optional: checks before a build takes its versions (Concourse v8.2+). A manually triggered build waits until
 * each of its unpinned inputs without `passed` was checked after it was created; a scheduler-created one
 * waits for its non-trigger inputs whose periodic check was already due. Without an InputChecker builds take
 * whatever versions exist (Concourse v7 for scheduler builds).
 */
export interface InputChecker {
  /** Check these resources soon (do not wait for the interval); the scheduler retries the job meanwhile. */
  requestChecks(build: SchedulableBuild, resourceIds: readonly number[]): void;
}
