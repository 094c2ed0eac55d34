import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { ApiError } from './api/api-error.js';
import { registerClaimRoutes } from './api/claims.js';
import { registerDiscoveryRoutes } from './api/discovery.js';
import { registerEventRoutes } from './api/events.js';
import { ExecEndpoint, V4_PROTOCOL, V5_PROTOCOL, type ExecSessionInfo } from './api/exec.js';
import { registerLogRoutes } from './api/logs.js';
import { registerNamespaceRoutes } from './api/namespaces.js';
import { registerNodeRoutes } from './api/nodes.js';
import { registerPodRoutes } from './api/pods.js';
import { registerSecretRoutes } from './api/secrets.js';
import type { KubeEvent, PersistentVolumeClaim, Pod, Secret } from './api/types.js';
import { WatchHub } from './api/watch.js';
import { FaultRules, reasonForStatus, type ExecDrop, type RequestFault } from './faults.js';
import { Router, sendJson } from './http/router.js';
import { EventRecorder } from './kubelet/event-recorder.js';
import { Kubelet } from './kubelet/kubelet.js';
import { NodeRegistry, type NodeSpec } from './kubelet/nodes.js';
import { ObjectStore, ResourceVersionClock } from './store/object-store.js';

export interface KubeTestServerOptions {
  /** Listen address; loopback by default. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where pod volumes, container layers and logs live; a fresh temp dir (removed on close) by default. */
  stateDir?: string;
  /** The node every pod is scheduled to (`spec.nodeName`) when `nodes` is not given. Default `kube-test-node`. */
  nodeName?: string;
  /**
   * A multi-node cluster: pods are scheduled by nodeName, nodeSelector and node affinity (required and
   * preferred), and each node has its own hostPath root (`nodeHostPath()`), so the same hostPath on two
   * nodes is two directories. Default: the single node `nodeName`, hostPaths the real host paths.
   */
  nodes?: NodeSpec[];
  /** Exec subprotocols the server accepts; `['v4.channel.k8s.io']` emulates a pre-1.30 cluster. Default v5 and v4. */
  execProtocols?: string[];
  /** Changes kept per kind for watches; a watch from an older resourceVersion gets 410. Default 1000. */
  historyLimit?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` (the kubeconfig does). */
  bearerToken?: string;
  /** argv for containers with neither command nor args. Default `sleep infinity`. */
  defaultCommand?: string[];
  /**
   * Image repository (no tag or digest) → a host directory laid over the host's root filesystem in containers
   * of that image (an extra overlay layer: e.g. `{'concourse/mock-resource': dir}` with `dir/opt/resource/check`).
   * Other images are the host's filesystem alone.
   */
  images?: Record<string, string>;
  /** BOOKMARK interval for watches that allow them. Default 0 (none). */
  watchBookmarkIntervalMs?: number;
}

/** Scheduling hold: matching pods stay Pending with PodScheduled=False/Unschedulable and this message. */
export interface PendingHold {
  namespace?: string;
  name?: string | RegExp;
  message?: string;
}

/** Fault injection for tests. */
export interface KubeFaults {
  /**
   * The next `count` requests matching method+path answer `status` (500 by default) with a Status body (or
   * have their connection cut: `reset`). Returns a function that disarms what is left of the fault.
   */
  failNextRequests(fault: RequestFault): () => void;
  /** The next exec socket(s) are cut (no close frame, no status) after `afterBytes`. */
  dropExecSockets(drop: ExecDrop): void;
  /** Ends every open watch cleanly, without an event: the "watch silently stopped" failure. Returns how many. */
  endWatchesSilently(): number;
  /** Sends an ERROR event with a 410 Expired Status on every open watch, then ends it. Returns how many. */
  expireWatches(): number;
  /** Forgets all change history, so any watch from an older resourceVersion gets 410. */
  compactHistory(): void;
  /** Node-pressure eviction: containers killed, pod Failed with reason Evicted (the object stays). */
  evictPod(namespace: string, name: string, message?: string): void;
  /**
   * The node goes away: its pods' processes die and the pods fail (reason NodeLost), the node is NotReady with
   * the unreachable taint (nothing new is scheduled there), and its hostPath root is deleted.
   */
  loseNode(nodeName: string): Promise<void>;
  /** Deletes a pod as someone else would (graceful unless gracePeriodSeconds is 0). */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void>;
  /** Keeps matching pods (existing unscheduled and future ones) Pending until the returned function is called. */
  holdPending(hold?: PendingHold): () => void;
  /**
   * Pulls of matching images fail: the container waits with `reason` (ErrImagePull by default) and a Failed
   * event, the pod stays Pending, until the returned function is called (for new containers).
   */
  failImagePulls(failure: ImagePullFault): () => void;
}

export interface ImagePullFault {
  image: string | RegExp;
  reason?: 'ErrImagePull' | 'ImagePullBackOff' | 'InvalidImageName';
  message?: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  /** 0: the connection was cut without an answer (a `reset` fault). */
  status: number;
}

export interface KubeTestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly stateDir: string;
  /** The first node. */
  readonly nodeName: string;
  /** Every node's name. */
  readonly nodeNames: readonly string[];
  /** Where `hostPath` of pods on `nodeName` lives on this machine (the path itself on a single default node). */
  nodeHostPath(nodeName: string, hostPath: string): string;
  readonly faults: KubeFaults;
  /** A kubeconfig (YAML) for this server: http with insecure-skip-tls-verify, the bearer token if any. */
  kubeConfigYaml(namespace?: string): string;
  writeKubeConfig(file: string, namespace?: string): Promise<void>;
  /** Every exec session so far, with its protocol, byte counts, pings received, pid and outcome. */
  execSessions(): readonly ExecSessionInfo[];
  /** Every HTTP request and upgrade so far, with its answer's status. */
  requests(): readonly RequestRecord[];
  pod(namespace: string, name: string): Pod | undefined;
  /** Resolves with the pod once `predicate` holds (checked on every change); rejects after `timeoutMs`. */
  waitForPod(
    namespace: string,
    name: string,
    predicate: (pod: Pod) => boolean,
    timeoutMs?: number,
  ): Promise<Pod>;
  /** The host directory behind a claim (to seed or inspect its data from a test). */
  claimDir(namespace: string, claimName: string): string;
  openWatchCount(): number;
  close(): Promise<void>;
}

const EXEC_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/;
const DEFAULT_EVICTION_MESSAGE =
  'The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi.';
const DEFAULT_UNSCHEDULABLE_MESSAGE =
  '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';

function requireHostSupport(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'kube-test-server runs pods in mount namespaces and needs root (it is run as root in CI)',
    );
  }
  try {
    execFileSync('unshare', ['--version'], { stdio: 'ignore' });
    execFileSync('nsenter', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('kube-test-server needs util-linux unshare and nsenter');
  }
}

function bearerOk(req: IncomingMessage, token: string | undefined): boolean {
  return token === undefined || req.headers.authorization === `Bearer ${token}`;
}

/**
 * Starts a Kubernetes API test server on loopback: pods (create/get/list/watch/delete/patch), events, PVCs,
 * namespaces, logs and exec over WebSocket (v5/v4), backed by local processes. See README.md.
 */
export async function startKubeTestServer(options: KubeTestServerOptions = {}): Promise<KubeTestServer> {
  requireHostSupport();
  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'kube-test-server-')));
  const nodeSpecs = options.nodes ?? [{ name: options.nodeName ?? 'kube-test-node' }];
  const nodes = new NodeRegistry(nodeSpecs, stateDir, options.nodes !== undefined);
  const nodeName = nodeSpecs[0]?.name ?? 'kube-test-node';
  const historyLimit = options.historyLimit ?? 1000;
  const clock = new ResourceVersionClock();
  const pods = new ObjectStore<Pod>('pods', clock, historyLimit);
  const events = new ObjectStore<KubeEvent>('events', clock, historyLimit);
  const claims = new ObjectStore<PersistentVolumeClaim>('persistentvolumeclaims', clock, historyLimit);
  const secrets = new ObjectStore<Secret>('secrets', clock, historyLimit);
  const kubelet = new Kubelet(pods, claims, new EventRecorder(events, nodeName), {
    nodeName,
    nodes,
    stateDir,
    defaultCommand: options.defaultCommand ?? ['sleep', 'infinity'],
    images: options.images ?? {},
  });
  const watches = new WatchHub(clock, options.watchBookmarkIntervalMs ?? 0);
  const rules = new FaultRules();
  const exec = new ExecEndpoint(kubelet, options.execProtocols ?? [V5_PROTOCOL, V4_PROTOCOL], () =>
    rules.takeExecDrop(),
  );
  const requestLog: RequestRecord[] = [];

  let address = '';
  const router = new Router();
  registerDiscoveryRoutes(router, () => address);
  registerPodRoutes(router, { pods, kubelet, watches, clock });
  registerEventRoutes(router, { events, watches, clock });
  registerClaimRoutes(router, { claims, kubelet, clock });
  registerSecretRoutes(router, { secrets, clock });
  registerNamespaceRoutes(router, { pods });
  registerNodeRoutes(router, { nodes });
  registerLogRoutes(router, { pods, kubelet });

  const answerError = (res: ServerResponse, error: unknown): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const apiError =
      error instanceof ApiError
        ? error
        : new ApiError(500, 'InternalError', error instanceof Error ? error.message : String(error));
    sendJson(res, apiError.code, apiError.toStatus());
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    res.on('finish', () => requestLog.push({ method, path: url.pathname, status: res.statusCode }));
    try {
      if (!bearerOk(req, options.bearerToken)) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const fault = rules.takeRequestFault(method, url.pathname);
      if (fault?.reset) {
        requestLog.push({ method, path: url.pathname, status: 0 });
        req.socket.resetAndDestroy();
        return;
      }
      if (fault?.retryAfterSeconds !== undefined)
        res.setHeader('Retry-After', String(fault.retryAfterSeconds));
      if (fault) throw new ApiError(fault.status, reasonForStatus(fault.status), fault.message);
      const match = router.match(method, url.pathname);
      if (match.kind === 'not-found')
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if (match.kind === 'method-not-allowed') {
        throw new ApiError(
          405,
          'MethodNotAllowed',
          `the server does not allow this method on the requested resource`,
        );
      }
      const reply = await match.handler({ req, res, url, params: match.params, query: url.searchParams });
      if (reply !== 'streamed') sendJson(res, reply.status ?? 200, reply.body);
    } catch (error) {
      answerError(res, error);
    }
  };

  const rejectUpgrade = (socket: Duplex, code: number, body: unknown, record: RequestRecord): void => {
    requestLog.push({ ...record, status: code });
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${code} ${reasonForStatus(code)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const record = { method, path: url.pathname, status: 101 };
    try {
      if (!bearerOk(req, options.bearerToken)) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const fault = rules.takeRequestFault(method, url.pathname);
      if (fault?.reset) {
        requestLog.push({ ...record, status: 0 });
        socket.destroy();
        return;
      }
      if (fault) throw new ApiError(fault.status, reasonForStatus(fault.status), fault.message);
      const match = EXEC_PATH.exec(url.pathname);
      if (!match) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        throw ApiError.badRequest('the test server speaks exec over WebSocket only (no SPDY)');
      }
      exec.upgrade(req, socket, head, {
        namespace: decodeURIComponent(match[1] ?? ''),
        pod: decodeURIComponent(match[2] ?? ''),
        query: url.searchParams,
      });
      requestLog.push(record);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, 'InternalError', String(error));
      rejectUpgrade(socket, apiError.code, apiError.toStatus(), record);
    }
  };

  const killOnExit = (): void => kubelet.killEverythingNow();
  process.once('exit', killOnExit);
  const server: Server = createServer((req, res) => void handle(req, res));
  server.on('upgrade', upgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const bound = server.address() as AddressInfo;
  address = `${bound.address}:${bound.port}`;
  const url = `http://${address}`;

  const kubeConfigYaml = (namespace = 'default'): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: kube-test-server',
      '  cluster:',
      `    server: ${url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: kube-test-server',
      '  user:',
      `    token: ${options.bearerToken ?? 'kube-test-server'}`,
      'contexts:',
      '- name: kube-test-server',
      '  context:',
      '    cluster: kube-test-server',
      '    user: kube-test-server',
      `    namespace: ${namespace}`,
      'current-context: kube-test-server',
      '',
    ].join('\n');

  let closed = false;
  return {
    url,
    stateDir,
    nodeName,
    nodeNames: nodeSpecs.map((node) => node.name),
    nodeHostPath: (node, hostPath) => {
      if (!nodes.get(node)) throw new Error(`no node ${node}`);
      return nodes.hostPathOn(node, hostPath);
    },
    faults: {
      loseNode: (node) => kubelet.loseNode(node),
      failNextRequests: (fault) => rules.failNextRequests(fault),
      dropExecSockets: (drop) => rules.dropExecSockets(drop),
      endWatchesSilently: () => watches.endSilently(),
      expireWatches: () => watches.expire(),
      compactHistory: () => {
        pods.compact();
        events.compact();
        claims.compact();
      },
      evictPod: (namespace, name, message) =>
        kubelet.evict(namespace, name, message ?? DEFAULT_EVICTION_MESSAGE),
      deletePod: async (namespace, name, gracePeriodSeconds) => {
        await kubelet.delete(namespace, name, gracePeriodSeconds);
      },
      failImagePulls: (failure) =>
        kubelet.failImagePulls({
          image: failure.image,
          reason: failure.reason ?? 'ErrImagePull',
          message:
            failure.message ??
            `rpc error: code = NotFound desc = failed to pull and unpack image: ${String(failure.image)}: not found`,
        }),
      holdPending: (hold = {}) =>
        kubelet.holdPending({
          ...(hold.namespace !== undefined ? { namespace: hold.namespace } : {}),
          ...(hold.name !== undefined ? { name: hold.name } : {}),
          message: hold.message ?? DEFAULT_UNSCHEDULABLE_MESSAGE,
        }),
    },
    kubeConfigYaml,
    writeKubeConfig: (file, namespace) => writeFile(file, kubeConfigYaml(namespace), { mode: 0o600 }),
    execSessions: () => exec.history,
    requests: () => requestLog,
    pod: (namespace, name) => pods.get(namespace, name),
    waitForPod: (namespace, name, predicate, timeoutMs = 20_000) =>
      new Promise<Pod>((resolve, reject) => {
        const check = (): boolean => {
          const pod = pods.get(namespace, name);
          if (!pod || !predicate(pod)) return false;
          unsubscribe();
          clearTimeout(timer);
          resolve(pod);
          return true;
        };
        const unsubscribe = pods.subscribe(() => void check());
        const timer = setTimeout(() => {
          unsubscribe();
          reject(
            new Error(
              `pod ${namespace}/${name} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(pods.get(namespace, name)?.status)}`,
            ),
          );
        }, timeoutMs);
        check();
      }),
    claimDir: (namespace, claimName) => kubelet.claimDir(namespace, claimName),
    openWatchCount: () => watches.count,
    close: async () => {
      if (closed) return;
      closed = true;
      process.off('exit', killOnExit);
      exec.close();
      watches.endSilently();
      await kubelet.shutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
