// Shared by the node-local tests (not exported): a simulated 3-node cluster on the kube-test-server, one
// artifact daemon per node (a host process here, a DaemonSet pod in a cluster) on that node's hostPath root.
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { startArtifactDaemon, type ArtifactDaemon } from '@jetbridge/artifact-daemon';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import { K8sWorker, type K8sWorkerConfig } from '../index.js';
import { testPodDefaults } from '../test-environment.js';
import type { NodeLocalArtifactsConfig } from './config.js';

export const NODES = ['node-a', 'node-b', 'node-c'] as const;
export const HOST_PATH = '/var/lib/jetbridge-artifacts';

export interface NodeLocalEnvironment {
  server: KubeTestServer;
  namespace: string;
  kubeConfig: KubeConfig;
  key: Buffer;
  daemons: Map<string, ArtifactDaemon>;
  /** The port of a node's daemon (kept across restarts). */
  port(node: string): number;
  workerConfig(
    overrides?: Partial<NodeLocalArtifactsConfig>,
    worker?: Partial<K8sWorkerConfig>,
  ): K8sWorkerConfig;
  newWorker(
    overrides?: Partial<NodeLocalArtifactsConfig>,
    worker?: Partial<K8sWorkerConfig>,
  ): Promise<K8sWorker>;
  /** Stops a node's daemon (a crash or restart), keeping its disk. */
  stopDaemon(node: string): Promise<void>;
  /** Starts it again on the same port and disk (`minAvailableBytes` high: a node whose disk is full). */
  startDaemon(node: string, options?: { minAvailableBytes?: number }): Promise<ArtifactDaemon>;
  /** The node is gone: its pods fail, its disk and its daemon too. */
  loseNode(node: string): Promise<void>;
  close(): Promise<void>;
}

/** Daemons over HTTPS: their certificate and key, and the CA file (a host path, which pods see as is). */
export interface EnvironmentTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  caFile: string;
}

export async function startNodeLocalEnvironment(
  namespace: string,
  helperPath: string,
  tls?: EnvironmentTls,
): Promise<NodeLocalEnvironment> {
  const server = await startKubeTestServer({ nodes: NODES.map((name) => ({ name })) });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
  const key = randomBytes(32);
  const daemons = new Map<string, ArtifactDaemon>();
  const ports = new Map<string, number>();
  const startDaemon = async (
    node: string,
    options: { minAvailableBytes?: number } = {},
  ): Promise<ArtifactDaemon> => {
    const daemon = await startArtifactDaemon({
      root: server.nodeHostPath(node, HOST_PATH),
      capabilityKey: key,
      host: '127.0.0.1',
      port: ports.get(node) ?? 0,
      nodeName: node,
      sweepIntervalMs: 0,
      minAvailableBytes: options.minAvailableBytes ?? 0,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key, ca: tls.ca } } : {}),
    });
    ports.set(node, daemon.port);
    daemons.set(node, daemon);
    return daemon;
  };
  for (const node of NODES) await startDaemon(node);
  const workers: K8sWorker[] = [];
  const workerConfig = (
    overrides: Partial<NodeLocalArtifactsConfig> = {},
    worker: Partial<K8sWorkerConfig> = {},
  ): K8sWorkerConfig => ({
    kubeConfig,
    namespace,
    artifacts: {
      mode: 'node-local',
      hostPath: HOST_PATH,
      daemons: Object.fromEntries(
        NODES.map((node) => [node, `${tls ? 'https' : 'http'}://127.0.0.1:${ports.get(node)}`]),
      ),
      ...(tls ? { tls: { ca: tls.ca, caPathInPod: tls.caFile } } : {}),
      capabilityKey: key,
      healthCacheMs: 0,
      ...overrides,
    },
    ...testPodDefaults(helperPath),
    ...worker,
  });
  const stopDaemon = async (node: string): Promise<void> => {
    await daemons.get(node)?.close();
    daemons.delete(node);
  };
  return {
    server,
    namespace,
    kubeConfig,
    key,
    daemons,
    port: (node) => ports.get(node) ?? 0,
    workerConfig,
    async newWorker(overrides = {}, worker = {}) {
      const created = await K8sWorker.create(workerConfig(overrides, worker));
      workers.push(created);
      return created;
    },
    stopDaemon,
    startDaemon,
    async loseNode(node) {
      await stopDaemon(node);
      await server.faults.loseNode(node);
    },
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await Promise.allSettled([...daemons.values()].map((daemon) => daemon.close()));
      await server.close();
    },
  };
}
