// @jetbridge/artifact-daemon: the per-node artifact daemon of the node-local artifact mode, and its client.
export {
  CapabilityKey,
  CapabilityError,
  MIN_KEY_BYTES,
  type CapabilityClaims,
  type CapabilityOp,
} from './capability.js';
export {
  startArtifactDaemon,
  type ArtifactDaemon,
  type ArtifactDaemonOptions,
  type DaemonLogger,
  type DaemonTlsOptions,
  type SweepResult,
} from './server.js';
export {
  ArtifactDaemonClient,
  DaemonRequestError,
  type ArtifactStat,
  type DaemonClientOptions,
  type DaemonClientTls,
  type DaemonHealth,
  type ListedArtifact,
  type TarReadOptions,
  type TransferResult,
} from './client.js';
export { SHA256_TRAILER, BYTES_TRAILER } from './digest-stream.js';
export { parseDaemonConfig, DAEMON_ENV, type DaemonConfig } from './config.js';
export { runArtifactDaemon } from './run.js';
