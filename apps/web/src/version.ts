/**
 * The Concourse version JetBridge speaks. fly refuses to run when major.minor differ from its own, and warns
 * when only the patch differs, so we report the release whose API we implement: fly v8.2.5.
 */
export const CONCOURSE_VERSION = '8.2.5';
/** Worker protocol version; `fly workers` compares each worker's version with it. */
export const WORKER_VERSION = '2.5';
/** JetBridge's own version, shown in logs and the UI. */
export const JETBRIDGE_VERSION = '0.1.0';
