// @jetbridge/plan: build plans and task configs: types, decoding, validation, public plans.
export type * from './plan.js';
export { STEP_KINDS, stepKindOf, isStep } from './plan.js';
export type * from './task-config.js';
export { parsePlan, PlanError } from './parse-plan.js';
export { parseTaskConfig, TaskConfigError, type ParseTaskConfigOptions } from './parse-task-config.js';
export { validateTaskConfig, assertValidTaskConfig, TaskValidationError } from './validate-task-config.js';
export { toPublicPlan, type PublicPlan } from './public-plan.js';
export { parseGoDuration, parseGoDurationNanoseconds, GoDurationError } from './go-duration.js';
