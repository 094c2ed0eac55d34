// A "cluster" for web tests of `--runtime kubernetes`: the in-repo Kubernetes API test server (pods run as local
// processes) simulating three nodes, with the artifact claim, one artifact daemon per node on that node's
// hostPath root (node-local mode; a DaemonSet pod in a real cluster, a process here, as the runtime's own
// node-local tests run them), a kubeconfig file for it, the real jetbridge-helper built from this checkout,
// and the CONCOURSE_KUBERNETES_* environment a web node needs to use it, per artifact mode.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startArtifactDaemon, type ArtifactDaemon } from '@jetbridge/artifact-daemon';
import { ArtifactStore } from '@jetbridge/artifact-store';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import { execInPod, K8sWorker } from '@jetbridge/runtime-k8s';
import { buildHelperBinary, TEST_HELPER_IMAGE } from '@jetbridge/runtime-k8s/testing';
import { KubeConfig } from '@kubernetes/client-node';
import { builtinResourceTypeImages } from './resource-type-images.js';

export const CLAIM = 'jetbridge-artifacts';
export type ArtifactMode = 'pvc' | 'stream' | 'node-local';
/** The simulated nodes; every mode's pods are spread over them (claims are shared, hostPaths per node). */
export const NODES = ['node-a', 'node-b', 'node-c'] as const;
/** The daemons' store on every node (the chart's `artifactDaemon.hostPath`). */
export const DAEMON_HOST_PATH = '/var/lib/jetbridge-artifacts';

/** The helper, built once per test file; `skip` says why the Kubernetes tests cannot run (no Go). */
export const helperBuild = await buildHelperBinary();

/**
 * Why an artifact mode cannot be tested yet, or undefined when it can: the runtime says "not implemented
 * yet" for a mode still being built (asked with a kubeconfig pointing nowhere: it fails on its settings
 * before it connects).
 */
async function unavailableReason(mode: ArtifactMode): Promise<string | undefined> {
  if ('skip' in helperBuild) return helperBuild.skip;
  if (mode === 'pvc' || mode === 'node-local') return undefined;
  const root = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-probe-'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'nowhere', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'nobody', token: 'none' }],
    contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody', namespace: 'probe' }],
    currentContext: 'nowhere',
  });
  try {
    const worker = await K8sWorker.create({
      kubeConfig,
      namespace: 'probe',
      artifacts: { mode: 'stream' },
      artifactStore: new ArtifactStore({ root }),
      helperImage: TEST_HELPER_IMAGE,
    });
    await worker.disconnect();
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return /not implemented/i.test(message) ? `artifact mode '${mode}' is ${message}` : undefined;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Each artifact mode with why it is skipped (undefined: it runs). */
export const ARTIFACT_MODES: Array<{ mode: ArtifactMode; skip: string | undefined }> = [
  { mode: 'pvc', skip: await unavailableReason('pvc') },
  { mode: 'stream', skip: await unavailableReason('stream') },
  { mode: 'node-local', skip: await unavailableReason('node-local') },
];

export interface TestCluster {
  server: KubeTestServer;
  namespace: string;
  kubeconfigPath: string;
  /** The claim's directory on this host (the web's mount of it in pvc mode). */
  claimDir: string;
  /** Node → its artifact daemon (node-local mode). */
  daemons: ReadonlyMap<string, ArtifactDaemon>;
  /** A node's daemon store as a directory of this host. */
  nodeStore(node: string): string;
  /** What a web node needs for `--runtime kubernetes` on this cluster, in `mode`. */
  env(mode: ArtifactMode, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** JetBridge's pods in the namespace (the test server's own view, not the web's). */
  podNames(): Promise<string[]>;
  /** Runs `command` in a pod's main container (its own /tmp, as the step sees it); its stdout. */
  exec(pod: string, command: string[]): Promise<string>;
  /** The exec sessions the test server had into `pod`, as their commands. */
  execCommands(pod: string): string[][];
  close(): Promise<void>;
}

export async function startTestCluster(
  namespace = 'ci',
  /** More images (repository → directory of its files) beside the built-in types'. */
  options: { images?: Record<string, string> } = {},
): Promise<TestCluster> {
  if ('skip' in helperBuild) throw new Error(helperBuild.skip);
  const helperPath = helperBuild.path;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-kube-'));
  // Resource steps run their type's image: the built-in types stand in for concourse/<type>-resource.
  const server = await startKubeTestServer({
    nodes: NODES.map((name) => ({ name })),
    images: { ...(await builtinResourceTypeImages(dir)), ...options.images },
  });
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  await server.writeKubeConfig(kubeconfigPath, namespace);
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/persistentvolumeclaims`, {
    method: 'POST',
    headers: { authorization: 'Bearer kube-test-server', 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name: CLAIM },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
    }),
  });
  if (response.status !== 201) throw new Error(`cannot create the claim: ${await response.text()}`);
  const claimDir = server.claimDir(namespace, CLAIM);
  // One daemon per node on its hostPath root, for node-local mode (idle in the others: a few open sockets).
  const capabilityKey = randomBytes(32).toString('hex');
  const daemons = new Map<string, ArtifactDaemon>();
  try {
    for (const node of NODES) {
      daemons.set(
        node,
        await startArtifactDaemon({
          root: server.nodeHostPath(node, DAEMON_HOST_PATH),
          capabilityKey: Buffer.from(capabilityKey, 'utf8'),
          host: '127.0.0.1',
          port: 0,
          nodeName: node,
          sweepIntervalMs: 0,
          minAvailableBytes: 0,
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled([...daemons.values()].map((daemon) => daemon.close()));
    await server.close();
    throw err;
  }
  const nodeLocalEnv = (): NodeJS.ProcessEnv => ({
    CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: DAEMON_HOST_PATH,
    // Three daemons on one host differ by port, so the web gets a fixed map (a cluster's daemons share a
    // hostPort on different node IPs: --kubernetes-artifact-daemon-selector, tested in runtime-k8s).
    CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_URLS: JSON.stringify(
      Object.fromEntries([...daemons].map(([node, daemon]) => [node, daemon.url])),
    ),
    CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: capabilityKey,
  });
  return {
    server,
    namespace,
    kubeconfigPath,
    claimDir,
    daemons,
    nodeStore: (node) => server.nodeHostPath(node, DAEMON_HOST_PATH),
    env: (mode, extra = {}) => ({
      JETBRIDGE_RUNTIME: 'kubernetes',
      CONCOURSE_KUBERNETES_KUBECONFIG: kubeconfigPath,
      CONCOURSE_KUBERNETES_NAMESPACE: namespace,
      CONCOURSE_KUBERNETES_ARTIFACT_MODE: mode,
      ...(mode === 'pvc'
        ? { CONCOURSE_KUBERNETES_CLAIM: CLAIM, CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: claimDir }
        : {}),
      ...(mode === 'node-local' ? nodeLocalEnv() : {}),
      CONCOURSE_KUBERNETES_HELPER_IMAGE: TEST_HELPER_IMAGE,
      // On the test server the "image" is this host: the init container copies the helper from here.
      CONCOURSE_KUBERNETES_HELPER_BINARY_PATH: helperPath,
      ...extra,
    }),
    podNames: async () => {
      const res = await fetch(`${server.url}/api/v1/namespaces/${namespace}/pods`, {
        headers: { authorization: 'Bearer kube-test-server' },
      });
      const list = (await res.json()) as { items: Array<{ metadata: { name: string } }> };
      return list.items.map((pod) => pod.metadata.name);
    },
    exec: async (pod, command) => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(kubeconfigPath);
      let stdout = '';
      const result = await execInPod({
        kubeConfig,
        namespace,
        pod,
        container: 'main',
        command,
        killOnAbort: false,
        stdout: new Writable({
          write(chunk: Buffer, _encoding, done) {
            stdout += chunk.toString('utf8');
            done();
          },
        }),
      });
      if (result.exitCode !== 0) throw new Error(`${command.join(' ')} exited ${result.exitCode} in ${pod}`);
      return stdout;
    },
    execCommands: (pod) =>
      server
        .execSessions()
        .filter((session) => session.namespace === namespace && session.pod === pod)
        .map((session) => session.command),
    close: async () => {
      await Promise.allSettled([...daemons.values()].map((daemon) => daemon.close()));
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
