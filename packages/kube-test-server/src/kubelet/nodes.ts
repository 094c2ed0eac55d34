import path from 'node:path';

/** How a test describes a node of the simulated cluster. */
export interface NodeSpec {
  name: string;
  /** Extra labels; `kubernetes.io/hostname`, `kubernetes.io/os` and `kubernetes.io/arch` are always set. */
  labels?: Record<string, string>;
}

/** A simulated node: its labels, whether it is Ready, and the host directory standing for its root file system. */
export interface SimulatedNode {
  readonly name: string;
  labels: Record<string, string>;
  ready: boolean;
  /** Why the node is not ready (node loss). */
  lostAt?: string;
  /** `hostPath` volumes of pods on this node resolve below this directory (undefined: the real host paths). */
  readonly hostRoot: string | undefined;
}

/** The Node object the API serves for a simulated node (the fields kubectl and schedulers read). */
export function nodeObject(node: SimulatedNode, created: string): Record<string, unknown> {
  const heartbeat = node.lostAt ?? new Date().toISOString();
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: {
      name: node.name,
      uid: `node-${node.name}`,
      creationTimestamp: created,
      labels: { ...node.labels },
    },
    spec: node.ready
      ? {}
      : {
          taints: [
            { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: node.lostAt },
            { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: node.lostAt },
          ],
        },
    status: {
      conditions: [
        node.ready
          ? {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'kubelet is posting ready status',
              lastHeartbeatTime: heartbeat,
              lastTransitionTime: created,
            }
          : {
              type: 'Ready',
              status: 'Unknown',
              reason: 'NodeStatusUnknown',
              message: 'Kubelet stopped posting node status.',
              lastHeartbeatTime: heartbeat,
              lastTransitionTime: node.lostAt,
            },
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: node.name },
      ],
      nodeInfo: { kubeletVersion: 'v1.35.0', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}

/**
 * The nodes of the simulated cluster. With a single node and no per-node roots (the default) hostPath volumes
 * are the real host paths, as before; with several nodes each has `<stateDir>/nodes/<name>/root`, so the
 * same hostPath on two nodes is two different directories, as on a real cluster.
 */
export class NodeRegistry {
  readonly #nodes = new Map<string, SimulatedNode>();
  readonly created = new Date().toISOString();

  constructor(specs: readonly NodeSpec[], stateDir: string, isolateHostPaths: boolean) {
    if (specs.length === 0) throw new Error('the test server needs at least one node');
    for (const spec of specs) {
      if (this.#nodes.has(spec.name)) throw new Error(`duplicate node name ${spec.name}`);
      this.#nodes.set(spec.name, {
        name: spec.name,
        labels: {
          'kubernetes.io/hostname': spec.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          ...(spec.labels ?? {}),
        },
        ready: true,
        hostRoot: isolateHostPaths ? path.join(stateDir, 'nodes', spec.name, 'root') : undefined,
      });
    }
  }

  list(): SimulatedNode[] {
    return [...this.#nodes.values()];
  }

  get(name: string): SimulatedNode | undefined {
    return this.#nodes.get(name);
  }

  /** The host directory behind `hostPath` on `nodeName`. */
  hostPathOn(nodeName: string | undefined, hostPath: string): string {
    const root = nodeName === undefined ? undefined : this.#nodes.get(nodeName)?.hostRoot;
    return root === undefined ? hostPath : path.join(root, path.resolve('/', hostPath));
  }
}
