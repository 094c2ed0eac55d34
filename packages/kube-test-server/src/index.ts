// @jetbridge/kube-test-server: a Kubernetes API test server that runs pods as local processes (see README.md).
export {
  startKubeTestServer,
  type ImagePullFault,
  type KubeFaults,
  type KubeTestServer,
  type KubeTestServerOptions,
  type PendingHold,
  type RequestRecord,
} from './server.js';
export { V4_PROTOCOL, V5_PROTOCOL, type ExecSessionInfo } from './api/exec.js';
export type { NodeSpec } from './kubelet/nodes.js';
export type { ExecDrop, RequestFault } from './faults.js';
export type {
  Container,
  ContainerStatus,
  KubeEvent,
  PersistentVolumeClaim,
  Pod,
  PodCondition,
  PodPhase,
  PodSpec,
  PodStatus,
  Secret,
  Volume,
  VolumeMount,
} from './api/types.js';
export { kubectlBinary } from './kubectl.js';
