// @jetbridge/runtime-local: runs steps as host processes (the embedded default).
export { LocalWorker, type LocalWorkerConfig } from './local-worker.js';
export type { ReadOnlyMountMode } from './container-layout.js';
export type { Logger } from './logger.js';
export { findProcessesInGroup, isProcessRunning } from './process-groups.js';
