import type { ResolvedK8sConfig } from './config.js';
import type { ExecKubeConfig } from './exec/index.js';
import type { PodClient } from './kube/pod-client.js';
import type { PodTracker } from './kube/pod-tracker.js';
import type { Logger } from './logger.js';
import type { K8sRuntimeMetrics } from './metrics.js';
import type { TarOutReceiver } from './stream/collector-thread.js';

/** What a worker shares with its containers. */
export interface WorkerContext {
  readonly config: ResolvedK8sConfig;
  readonly kubeConfig: ExecKubeConfig;
  readonly pods: PodClient;
  readonly tracker: PodTracker;
  readonly metrics: K8sRuntimeMetrics;
  readonly logger: Logger;
  /** Stream mode: receives outputs (in a thread of its own). */
  readonly outputReceiver?: TarOutReceiver;
}
