// @jetbridge/runtime-k8s: runs steps as Kubernetes pods — the K8sWorker, and the exec transport it uses.
export { K8sWorker, type StepPodSummary } from './k8s-worker.js';
export type { K8sContainer, PodProcessState } from './k8s-container.js';
export type { OutputOffsets } from './k8s-process.js';
export {
  DEFAULT_CAPABILITIES,
  K8S_WORKER_DEFAULTS,
  type ContainerNotice,
  type K8sWorkerConfig,
  type Placement,
  type ArtifactsConfig,
  type PvcArtifactsConfig,
  type StreamArtifactsConfig,
  type ResourceQuantities,
} from './config.js';
export type { NodeLocalArtifactsConfig } from './node-local/config.js';
export { NodeLocalArtifacts, type InputFetchReport } from './node-local/node-local-artifacts.js';
/** Where a node-local step pod's init container sees its node's store (a file there: `<this>/<relative path>`). */
export { NODE_STORE_IN_INIT } from './node-local/pod-layout.js';
export { PodFailedError, PodStartError } from './errors.js';
export type { KubeConfigLike } from './kube/kube-api.js';
export type { Logger } from './logger.js';
export * from './exec/index.js';
