// @jetbridge/web: the web node. `startJetBridge` runs one; `buildApp` builds the HTTP app around a context.
export { startJetBridge, createLogger, type RunningJetBridge, type StartOptions } from './server.js';
export { buildApp, type ApiArea, type RegisteredRoute } from './app.js';
export type { AppContext } from './app-context.js';
export { parseWebConfig, helpText, ConfigError, type WebConfig } from './config/index.js';
export { HttpError } from './http-error.js';
export { CONCOURSE_VERSION, WORKER_VERSION, JETBRIDGE_VERSION } from './version.js';
