// The exec transport: our own v5/v4 channel protocol client over `ws` (client-node is used for kubeconfig/auth).
export {
  execInPod,
  killRemoteProcess,
  type ExecInPodOptions,
  type ExecKubeConfig,
  type ExecResult,
  type KillOnAbort,
  type KillRemoteProcessOptions,
} from './exec-in-pod.js';
export { boundedStdinCommand } from './bounded-stdin.js';
export { killableCommand, type KillOutcome, type KillSignal } from './remote-kill.js';
export {
  parseStatus,
  V4_PROTOCOL,
  V5_PROTOCOL,
  type ExecProtocol,
  type ExecStatus,
} from './channel-protocol.js';
export {
  ExecAbortedError,
  ExecConnectionLostError,
  ExecError,
  ExecFailedError,
  ExecProtocolError,
  ExecStreamError,
  ExecUpgradeError,
  ExecVerificationError,
  type ExecTarget,
} from './errors.js';
