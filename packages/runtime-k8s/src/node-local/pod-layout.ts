import path from 'node:path';
import type { ContainerManifest, PodSpec, VolumeManifest, VolumeMount } from '../kube/pod-types.js';
import { HELPER_PATH, HELPER_ROOT, type PodLayout } from '../pods/step-pod.js';

/** Where the init container sees its node's artifact store (read-only), for local copies. */
export const NODE_STORE_IN_INIT = '/.jetbridge-node';

const HELPER_VOLUME = 'jetbridge';
const WORKSPACE_VOLUME = 'workspace';
const NODE_STORE_VOLUME = 'node-artifacts';

/** An input to copy or fetch into the pod (also an output that starts from its earlier content). */
export interface NodeLocalInput {
  handle: string;
  mountPath: string;
  /** Nodes holding it, preferred first, with their daemons. */
  sources: { node: string; url: string }[];
  token: string;
}

export interface NodeLocalLayoutInput {
  workDir: string;
  hostPath: string;
  /** Read-only mounts: copied or fetched into emptyDirs/the workspace. */
  inputs: NodeLocalInput[];
  /** Read-write mounts: `incoming/<handle>` of the node's store, adopted by its daemon once the pod runs. */
  outputs: { handle: string; mountPath: string }[];
  /** Outputs with content already: fetched into the output directory before the step runs. */
  prefilled: NodeLocalInput[];
  /** Nodes whose daemon is ready: a hard requirement. */
  readyNodes: string[];
  /** Node → preference weight (1–100), from the input bytes it holds. */
  weights: ReadonlyMap<string, number>;
  attempts: number;
  caPathInPod?: string;
}

function isWithin(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}

/**
 * The node-local pod: the init container runs `fetch-inputs` (install the helper, copy inputs held on this
 * node from its store, fetch the others from peer daemons, make outputs writable); outputs are subPath mounts
 * of the node's store; a required node affinity to nodes with a ready daemon and a preferred one (weighted by
 * input bytes) to the nodes holding the inputs.
 */
export function nodeLocalLayout(input: NodeLocalLayoutInput): PodLayout {
  const { workDir } = input;
  const outputAtWorkDir = input.outputs.some((output) => output.mountPath === workDir);
  const helperMount: VolumeMount = { name: HELPER_VOLUME, mountPath: HELPER_ROOT };
  const volumes: VolumeManifest[] = [
    { name: HELPER_VOLUME, emptyDir: {} },
    { name: NODE_STORE_VOLUME, hostPath: { path: input.hostPath, type: 'DirectoryOrCreate' } },
  ];
  const mainMounts: VolumeMount[] = [helperMount];
  const initMounts: VolumeMount[] = [
    helperMount,
    { name: NODE_STORE_VOLUME, mountPath: NODE_STORE_IN_INIT, readOnly: true },
  ];
  if (!outputAtWorkDir) {
    volumes.push({ name: WORKSPACE_VOLUME, emptyDir: {} });
    mainMounts.push({ name: WORKSPACE_VOLUME, mountPath: workDir });
    initMounts.push({ name: WORKSPACE_VOLUME, mountPath: workDir });
  }
  input.inputs
    .filter((each) => outputAtWorkDir || !isWithin(workDir, each.mountPath))
    .filter((each) => !input.outputs.some((output) => isWithin(output.mountPath, each.mountPath)))
    .forEach((each, index) => {
      const name = `input-${index}`;
      volumes.push({ name, emptyDir: {} });
      mainMounts.push({ name, mountPath: each.mountPath });
      initMounts.push({ name, mountPath: each.mountPath });
    });
  const byDepth = (a: { mountPath: string }, b: { mountPath: string }) =>
    a.mountPath.split('/').length - b.mountPath.split('/').length;
  for (const output of [...input.outputs].sort(byDepth)) {
    const mount = {
      name: NODE_STORE_VOLUME,
      mountPath: output.mountPath,
      subPath: `incoming/${output.handle}`,
    };
    mainMounts.push(mount);
    initMounts.push(mount);
  }

  const args = [
    'fetch-inputs',
    `--to=${HELPER_PATH}`,
    `--node-root=${NODE_STORE_IN_INIT}`,
    `--attempts=${input.attempts}`,
  ];
  if (input.caPathInPod) args.push(`--ca=${input.caPathInPod}`);
  for (const output of input.outputs) args.push(`--writable=${output.mountPath}`);
  for (const each of [...input.inputs, ...input.prefilled]) {
    if (each.sources.length === 0) {
      args.push(`--writable=${each.mountPath}`); // an empty volume: just the directory
      continue;
    }
    args.push(`--input=${each.handle}=${each.mountPath}`, `--token=${each.handle}=${each.token}`);
    for (const source of each.sources) args.push(`--source=${each.handle}=${source.node}=${source.url}`);
  }
  const initEnv: ContainerManifest['env'] = [
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
  ];
  const preferred = [...input.weights]
    .filter(([node, weight]) => weight > 0 && input.readyNodes.includes(node))
    .sort((a, b) => b[1] - a[1])
    .map(([node, weight]) => ({
      weight,
      preference: {
        matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: [node] }],
      },
    }));
  const affinity: PodSpec['affinity'] = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: 'kubernetes.io/hostname', operator: 'In', values: [...input.readyNodes].sort() },
            ],
          },
        ],
      },
      ...(preferred.length > 0 ? { preferredDuringSchedulingIgnoredDuringExecution: preferred } : {}),
    },
  };
  return { volumes, initMounts, mainMounts, copyArgs: [], initArgs: args, initEnv, affinity };
}

/** Preference weights 1–100 proportional to the input bytes each node holds (a node with any input gets ≥ 1). */
export function weightsFromBytes(bytesOnNode: ReadonlyMap<string, number>): Map<string, number> {
  const most = Math.max(0, ...bytesOnNode.values());
  const weights = new Map<string, number>();
  for (const [node, bytes] of bytesOnNode) {
    weights.set(node, most === 0 ? 1 : Math.max(1, Math.round((100 * bytes) / most)));
  }
  return weights;
}

export function relativeMountPath(workDir: string, mountPath: string): string {
  return path.posix.relative(workDir, mountPath);
}
