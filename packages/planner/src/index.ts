// @jetbridge/planner: build plans from pipeline configs (Concourse's atc/builds/planner.go and the check
// plans of atc/db/resource.go): a job's plan for the inputs the scheduler chose, and resources' check plans.
export { planJobBuild, type BuildInputVersion, type JobPlanRequest } from './job-planner.js';
export { planResourceCheck, checkInterval, type CheckPlanRequest } from './check-planner.js';
export { PlanIdFactory } from './plan-ids.js';
export { PipelineResourceTypes, mergeSource, DEFAULT_CHECK_INTERVAL } from './resource-types.js';
export { UnknownResourceError, UnknownPrototypeError, VersionNotProvidedError } from './planner-errors.js';
