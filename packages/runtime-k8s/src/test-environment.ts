// Shared by this package's tests (not exported): a kube-test-server with the artifact claim, and workers on it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ArtifactStore } from '@jetbridge/artifact-store';
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import type { Container, ProcessIO } from '@jetbridge/runtime';
import { K8sWorker, type K8sWorkerConfig, type PvcArtifactsConfig } from './index.js';
import { buildHelperBinary, TEST_HELPER_IMAGE, type HelperBuild } from './testing.js';

export const CLAIM = 'jetbridge-artifacts';

export type PvcWorkerConfig = K8sWorkerConfig & { artifacts: PvcArtifactsConfig };

export interface TestEnvironment {
  server: KubeTestServer;
  namespace: string;
  helperPath: string;
  kubeConfig: KubeConfig;
  workerConfig(overrides?: Partial<PvcWorkerConfig>): PvcWorkerConfig;
  /** stream mode: no claim; volumes in `webStore`, the web's own store (a directory of this process). */
  streamWorkerConfig(overrides?: Partial<K8sWorkerConfig>): K8sWorkerConfig;
  webStore: ArtifactStore;
  newWorker(overrides?: Partial<K8sWorkerConfig>): Promise<K8sWorker>;
  close(): Promise<void>;
}

/** How test workers make pods, whatever their artifact mode: the helper built here, quick polls and stops. */
export function testPodDefaults(helperPath: string) {
  return {
    helperImage: TEST_HELPER_IMAGE,
    helperBinaryPath: helperPath,
    defaultImage: 'busybox:stable',
    podPollIntervalMs: 500,
    terminateGraceMs: 2_000,
    terminationGracePeriodSeconds: 2,
  } satisfies Partial<K8sWorkerConfig>;
}

/** The helper build, done once per test file (top-level await: suites decide whether to skip from it). */
export const helperBuild: HelperBuild = await buildHelperBinary();

export async function startTestEnvironment(namespace: string, helperPath: string): Promise<TestEnvironment> {
  const server = await startKubeTestServer();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/persistentvolumeclaims`, {
    method: 'POST',
    headers: { authorization: 'Bearer kube-test-server', 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name: CLAIM },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
    }),
  });
  if (response.status !== 201) throw new Error(`cannot create the claim: ${await response.text()}`);
  const workers: K8sWorker[] = [];
  const webStoreRoot = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-store-'));
  const webStore = new ArtifactStore({ root: webStoreRoot });
  const workerConfig = (overrides: Partial<PvcWorkerConfig> = {}): PvcWorkerConfig => ({
    kubeConfig,
    namespace,
    artifacts: { mode: 'pvc', claimName: CLAIM, claimMountPath: server.claimDir(namespace, CLAIM) },
    ...testPodDefaults(helperPath),
    ...overrides,
  });
  const streamWorkerConfig = (overrides: Partial<K8sWorkerConfig> = {}): K8sWorkerConfig => ({
    ...workerConfig(),
    artifacts: { mode: 'stream' },
    artifactStore: webStore,
    ...overrides,
  });
  return {
    server,
    namespace,
    helperPath,
    kubeConfig,
    workerConfig,
    streamWorkerConfig,
    webStore,
    async newWorker(overrides = {}) {
      const worker = await K8sWorker.create({ ...workerConfig(), ...overrides });
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.disconnect()));
      await server.close();
      await rm(webStoreRoot, { recursive: true, force: true });
    },
  };
}

/** Keeps what a process writes, to read as bytes or text once it is done. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    callback();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

/** Polls `condition` every 50 ms until it holds, for at most `ms`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `sh -c script` in the container (with process id `id` when given). */
export function runShell(container: Container, script: string, io: ProcessIO = {}, id?: string) {
  return container.run({ ...(id ? { id } : {}), path: 'sh', args: ['-c', script] }, io);
}
