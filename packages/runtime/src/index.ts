// @jetbridge/runtime: the Worker interface every runtime implements. The conformance suite is imported
// separately (`@jetbridge/runtime/conformance`) because it depends on jest.
export type * from './worker.js';
export { RuntimeError, ExecutableNotFoundError, FileNotFoundError } from './errors.js';
