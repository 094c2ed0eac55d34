// @jetbridge/pipeline-config: pipeline configuration as Concourse models it — parsing YAML/JSON text,
// validation with Concourse's messages, and the JSON form `GET P/config` returns.
export type * from './config.js';
export type * from './steps.js';
export { stepResourceName, isStepModifier } from './steps.js';
export {
  parsePipelineConfig,
  PIPELINE_CONFIG_CONTENT_TYPES,
  type ParsePipelineConfigResult,
} from './parse-pipeline-config.js';
export { decodeStep, STEP_PRECEDENCE, NO_STEP_CONFIGURED, NO_CORE_STEP_DECLARED } from './decode-step.js';
export { GoJsonError } from './go-json.js';
export {
  validatePipelineConfig,
  type PipelineConfigValidation,
  type ValidatePipelineConfigOptions,
} from './validate-pipeline-config.js';
export {
  CREDENTIAL_MANAGER_TYPES,
  PIPELINE_VAR_SOURCE_TYPES,
  DEFAULT_VAR_SOURCE_CHECKS,
  orderVarSourcesByDependency,
  type VarSourceConfigCheck,
} from './validate-var-sources.js';
export { StepValidator } from './step-validator.js';
export { validateIdentifier, type IdentifierCheck } from './identifier.js';
export {
  jobStepConfig,
  visitBaseSteps,
  jobInputs,
  jobOutputs,
  effectiveMaxInFlight,
  effectiveSerialGroups,
  type BaseStepVisitor,
  type JobInput,
} from './job-step.js';
export { compileJobGlob, type JobGlob } from './job-glob.js';
export { goPathMatch } from './path-match.js';
export { toConfigJson, stepJson, type ConfigJson } from './config-json.js';
export { canonicalGoDuration, formatGoDuration } from './go-duration-format.js';
export { varReferences } from './var-references.js';
export {
  instanceVarsToString,
  instanceVarsToQueryParams,
  instanceVarsFromQueryParams,
  pipelineRefToString,
  parseVarReference,
  varReferenceToString,
  InstanceVarsQueryError,
  type InstanceVars,
  type VarReference,
} from './instance-vars.js';
export type { JsonValue } from './yaml-source.js';
