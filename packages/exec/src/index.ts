// @jetbridge/exec: executes build plans step by step against a Worker and emits build events.
export { runBuild, type BuildOutcome, type RunBuildOptions } from './run-build.js';
export type { BuildIdentity } from './run-state.js';
export {
  ReplayedArtifactGoneError,
  type CollectedRun,
  type StepJournal,
  type StepRecord,
} from './step-journal.js';
export type { BuildEvent, BuildEventSink, EventOrigin, ShadowTaskConfig } from './events.js';
export type { ArtifactCatalog } from './artifact-catalog.js';
export type {
  BuildRecorder,
  CheckVersions,
  FetchedVersion,
  MetadataField,
  ResourceConfigRef,
  SetPipelineRequest,
  SetPipelineResult,
} from './build-recorder.js';
export type {
  ImageResolveContext,
  ResourceTypeExecutables,
  ResourceTypeResolver,
} from './resource-type-resolver.js';
export {
  InvalidImageDigestError,
  isImageDigest,
  type ImageVersionLookup,
  type ImageVersionQuery,
} from './image-versions.js';
export {
  ContainerResourceTypeResolver,
  ResourceTypeImageError,
  customTypeImage,
  defaultBaseTypeImage,
  type ContainerResourceTypeResolverOptions,
} from './container-resource-types.js';
export type { VarsResolver } from './vars/build-vars.js';
export { parseVarReference, varReferenceToString, type VarReference } from './vars/var-reference.js';
export type { HookBuildStatus } from './step-env.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export { Redactor, REDACTED } from './redactor.js';
export { LogEventWriter, type LogEventWriterOptions } from './log-event-writer.js';
export { StepError, StepErrors, StepInterruptedError, StepTimeoutError } from './step-errors.js';
export {
  MissingInputsError,
  MissingTaskImageSourceError,
  TASK_PROCESS_ID,
  taskWorkingDirectory,
} from './steps/task-step.js';
export { UnknownArtifactSourceError, UnspecifiedArtifactSourceError } from './steps/task-config-source.js';
export { ArtifactVolumeNotFoundError } from './steps/artifact-input-step.js';
export { ArtifactNotFoundError } from './steps/artifact-output-step.js';
export { PutInputNotFoundError } from './steps/put-step.js';
export { VersionMissingError } from './steps/get-step.js';
export { ResourceOutputError } from './resource-script.js';
export { UndefinedVarsError } from './vars/interpolate.js';
export { UnsupportedStepError } from './steps/unsupported-step.js';
