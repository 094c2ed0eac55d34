// @jetbridge/scheduler: when job builds are created and started, and with which input versions
// (Concourse's atc/scheduler). See concourse-semantics.md §5.
export {
  JobScheduler,
  type JobSchedulerOptions,
  type JobScheduleReport,
  type SchedulerLogger,
} from './job-scheduler.js';
export type {
  BuildStarter,
  BuildStartOutcome,
  InputChecker,
  SchedulableBuild,
  BuildInputVersion,
} from './build-starter.js';
export {
  findBuildPreparation,
  MissingInputReason,
  type BuildPreparation,
  type PreparationStatus,
} from './build-preparation.js';
export {
  computeInputs,
  groupByPassedJobs,
  type ComputedInputs,
  type InputMappingEntry,
} from './algorithm/compute-inputs.js';
export {
  ResolveFailure,
  type ChosenVersion,
  type Resolution,
  type Resolver,
} from './algorithm/resolution.js';
