// Test support (not exported): the same end-to-end tests against a real cluster (kind, k3s…) from a
// kubeconfig, when JETBRIDGE_REAL_CLUSTER=1 says so (scripts/k8s-e2e-real-cluster.sh sets it up). Stream mode
// needs nothing but the kubeconfig and a helper image the cluster can pull; pvc mode also needs the test
// process to have the ReadWriteMany claim mounted (JETBRIDGE_E2E_CLAIM + JETBRIDGE_E2E_CLAIM_DIR), as the web
// pod has in production.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ArtifactStore } from '@jetbridge/artifact-store';
import { KubeConfig } from '@kubernetes/client-node';
import type { K8sWorkerConfig } from './config.js';
import { KubeApi, KubeApiError } from './kube/kube-api.js';

export interface RealClusterSettings {
  namespace: string;
  helperImage: string;
  helperBinaryPath: string;
  defaultImage: string;
  claim?: { name: string; mountPath: string };
}

/** The settings from the environment, or why the real-cluster tests are skipped. */
export function realClusterSettings(
  env: NodeJS.ProcessEnv = process.env,
): RealClusterSettings | { skip: string } {
  if (env.JETBRIDGE_REAL_CLUSTER !== '1') {
    return {
      skip: 'no real cluster configured (scripts/k8s-e2e-real-cluster.sh runs these tests against one: JETBRIDGE_REAL_CLUSTER=1 with a kubeconfig)',
    };
  }
  if (!env.JETBRIDGE_HELPER_IMAGE) {
    return {
      skip: 'JETBRIDGE_REAL_CLUSTER=1 but JETBRIDGE_HELPER_IMAGE (an image the cluster can pull) is not set',
    };
  }
  return {
    namespace: env.JETBRIDGE_E2E_NAMESPACE ?? 'jetbridge-e2e',
    helperImage: env.JETBRIDGE_HELPER_IMAGE,
    helperBinaryPath: env.JETBRIDGE_HELPER_BINARY_PATH ?? '/jetbridge-helper',
    defaultImage: env.JETBRIDGE_E2E_STEP_IMAGE ?? 'busybox:stable',
    ...(env.JETBRIDGE_E2E_CLAIM && env.JETBRIDGE_E2E_CLAIM_DIR
      ? { claim: { name: env.JETBRIDGE_E2E_CLAIM, mountPath: env.JETBRIDGE_E2E_CLAIM_DIR } }
      : {}),
  };
}

export interface RealCluster {
  settings: RealClusterSettings;
  kubeConfig: KubeConfig;
  api: KubeApi;
  webStore: ArtifactStore;
  streamWorkerConfig(overrides?: Partial<K8sWorkerConfig>): K8sWorkerConfig;
  /** pvc mode, when a claim is mounted here; undefined otherwise. */
  pvcWorkerConfig(overrides?: Partial<K8sWorkerConfig>): K8sWorkerConfig | undefined;
  close(): Promise<void>;
}

/**
 * Connects with the default kubeconfig ($KUBECONFIG, else ~/.kube/config), creating the namespace (Pod
 * Security "baseline", what step pods are built to fit) unless it exists; `close` deletes it only if created here.
 */
export async function connectRealCluster(settings: RealClusterSettings): Promise<RealCluster> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const api = new KubeApi(kubeConfig);
  let created = false;
  try {
    await api.request('GET', `/api/v1/namespaces/${settings.namespace}`);
  } catch (error) {
    if (!(error instanceof KubeApiError && error.isNotFound)) throw error;
    await api.request('POST', '/api/v1/namespaces', {
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: settings.namespace,
          labels: { 'pod-security.kubernetes.io/enforce': 'baseline' },
        },
      },
    });
    created = true;
  }
  const storeRoot = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-e2e-store-'));
  const webStore = new ArtifactStore({ root: storeRoot });
  const common = (): K8sWorkerConfig => ({
    kubeConfig,
    namespace: settings.namespace,
    helperImage: settings.helperImage,
    helperBinaryPath: settings.helperBinaryPath,
    defaultImage: settings.defaultImage,
    artifacts: { mode: 'stream' },
    artifactStore: webStore,
    podPollIntervalMs: 1_000,
    terminateGraceMs: 2_000,
    terminationGracePeriodSeconds: 2,
  });
  return {
    settings,
    kubeConfig,
    api,
    webStore,
    streamWorkerConfig: (overrides = {}) => ({ ...common(), ...overrides }),
    pvcWorkerConfig: (overrides = {}) => {
      if (!settings.claim) return undefined;
      const { artifactStore: _unused, ...rest } = common();
      return {
        ...rest,
        artifacts: { mode: 'pvc', claimName: settings.claim.name, claimMountPath: settings.claim.mountPath },
        ...overrides,
      };
    },
    async close() {
      await rm(storeRoot, { recursive: true, force: true });
      if (created) {
        await api.request('DELETE', `/api/v1/namespaces/${settings.namespace}`).catch(() => undefined);
      }
    },
  };
}
