// @jetbridge/exec: executes build plans step by step against a Worker and emits build events.
export { runBuild, type BuildOutcome, type RunBuildOptions } from './run-build.js';
export type { BuildIdentity } from './run-state.js';
export type { BuildEvent, BuildEventSink, EventOrigin, ShadowTaskConfig } from './events.js';
export type { ArtifactCatalog } from './artifact-catalog.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export { Redactor, REDACTED } from './redactor.js';
export { StepError, StepErrors, StepInterruptedError, StepTimeoutError } from './step-errors.js';
export { MissingInputsError, MissingTaskImageSourceError, taskWorkingDirectory } from './steps/task-step.js';
export { UnknownArtifactSourceError, UnspecifiedArtifactSourceError } from './steps/task-config-source.js';
export { ArtifactVolumeNotFoundError } from './steps/artifact-input-step.js';
export { ArtifactNotFoundError } from './steps/artifact-output-step.js';
export { UnsupportedStepError } from './steps/unsupported-step.js';
