import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';
import type { ContainerSpec, ImageSpec } from '@jetbridge/runtime';
import type { ResolvedK8sConfig, ResourceQuantities } from '../config.js';
import type {
  ContainerManifest,
  Pod,
  PodSpec,
  ResourceRequirements,
  SecurityContext,
  Toleration,
  VolumeManifest,
  VolumeMount,
} from '../kube/pod-types.js';
import { INIT_CONTAINER, MAIN_CONTAINER } from './pod-state.js';
import { outsideRoots } from './stream-layout.js';

/** The helper's emptyDir: its binary (bin/), process directories (procs/) and the saved container env. */
export const HELPER_ROOT = '/.jetbridge';
export const HELPER_PATH = `${HELPER_ROOT}/bin/jetbridge-helper`;
/** Where the init container sees the whole claim (read-only) to copy inputs from. */
const CLAIM_IN_INIT = '/.jetbridge-artifacts';

const HELPER_VOLUME = 'jetbridge';
const WORKSPACE_VOLUME = 'workspace';
const CLAIM_VOLUME = 'artifacts';

/** A ContainerSpec mount resolved against the claim: the artifact's directory in it, and the absolute path. */
export interface ClaimMount {
  subPath: string;
  mountPath: string;
  readOnly: boolean;
}

export interface StepPodInput {
  spec: ContainerSpec;
  podName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workDir: string;
  /** pvc mode: the step's volumes as claim subPaths. */
  mounts: ClaimMount[];
  /** stream mode: the container paths volumes are streamed into (and outputs out of). */
  streamedPaths?: string[];
  /** stream mode: empty outputs, created by the init container instead of streamed in. */
  createdPaths?: string[];
  /** node-local mode: the layout src/node-local/ made (hostPath mounts, fetch-inputs, node affinity). */
  layout?: PodLayout;
}

export interface PodLayout {
  volumes: VolumeManifest[];
  initMounts: VolumeMount[];
  mainMounts: VolumeMount[];
  /** The init container's `copy` arguments after `--to`. */
  copyArgs: string[];
  /** Replaces the init container's helper arguments (`copy --to=… <copyArgs>`): node-local mode's `fetch-inputs`. */
  initArgs?: string[];
  initEnv?: ContainerManifest['env'];
  affinity?: PodSpec['affinity'];
}

/** The working directory Concourse gives a step: /tmp/build/<8 hex>. */
export function workDirFor(spec: ContainerSpec, hash: string): string {
  return spec.dir ? path.posix.resolve('/', spec.dir) : `/tmp/build/${hash.slice(0, 8)}`;
}

/** A mount path as the container sees it: relative paths are below the working directory. */
export function containerPath(workDir: string, mountPath: string): string {
  return path.posix.resolve(workDir, mountPath);
}

function isWithin(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}

/**
 * The pod's image: `repository@digest` when a digest pins the version (the tag is dropped: the digest alone
 * says what runs, and some runtimes refuse `tag@digest`), else `repository[:tag]`; or `docker:///repo#tag`.
 * Images from artifacts need a registry, which this runtime lacks.
 */
export function imageReference(image: ImageSpec | undefined, defaultImage: string): string {
  if (!image) return defaultImage;
  switch (image.kind) {
    case 'registry':
      if (image.digest) return `${image.repository}@${image.digest}`;
      return `${image.repository}${image.tag ? `:${image.tag}` : ''}`;
    case 'rootfs': {
      const match = /^docker:\/\/\/([^#]+)(?:#(.+))?$/.exec(image.uri);
      if (match) return `${match[1]}${match[2] ? `:${match[2]}` : ''}`;
      throw new RuntimeError(
        `the Kubernetes runtime runs registry images only; rootfs ${image.uri} cannot be used as a pod image`,
      );
    }
    case 'volume':
      throw new RuntimeError(
        'the Kubernetes runtime cannot run an image fetched into an artifact (task `image:`); use `image_resource` with a registry image',
      );
  }
}

/** Memory quantities in bytes ("128Mi", "1G", "512000"), for comparing a default request with a limit. */
function memoryBytes(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) return undefined;
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] ? (units[match[2]] ?? 1) : 1);
}

/**
 * Configured defaults, overridden by the step's `container_limits`: memory becomes the limit (and caps the
 * request); cpu shares become the request, converted the way the kubelet converts a request back into
 * cgroup shares (1024 shares = 1 CPU), and no CPU limit: shares were a weight, never a cap.
 */
export function resourcesFor(
  limits: ContainerSpec['limits'],
  defaults: { requests: ResourceQuantities; limits: ResourceQuantities },
): ResourceRequirements {
  const requests: Record<string, string> = { ...defaults.requests } as Record<string, string>;
  const caps: Record<string, string> = { ...defaults.limits } as Record<string, string>;
  if (limits?.memoryBytes !== undefined && limits.memoryBytes > 0) {
    caps.memory = String(limits.memoryBytes);
    const requested = requests.memory === undefined ? undefined : memoryBytes(requests.memory);
    if (requested === undefined || requested > limits.memoryBytes)
      requests.memory = String(limits.memoryBytes);
  }
  if (limits?.cpuShares !== undefined && limits.cpuShares > 0) {
    requests.cpu = `${Math.max(1, Math.ceil((limits.cpuShares * 1000) / 1024))}m`;
  }
  const result: ResourceRequirements = {};
  if (Object.keys(requests).length > 0) result.requests = requests;
  if (Object.keys(caps).length > 0) result.limits = caps;
  return result;
}

/**
 * The default is as tight as arbitrary task images allow: they often run as root and install packages, so
 * `runAsNonRoot` is impossible, but no privilege escalation (setuid binaries gain nothing), every capability
 * dropped except the few root builds need, and the runtime's default seccomp profile. Fits the "baseline"
 * Pod Security Standard.
 */
function mainSecurityContext(privileged: boolean, capabilities: string[]): SecurityContext {
  if (privileged) return { privileged: true, allowPrivilegeEscalation: true };
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'], ...(capabilities.length > 0 ? { add: capabilities } : {}) },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The init container only copies files: root, to read any artifact and keep owners, but nothing more. */
const INIT_SECURITY_CONTEXT: SecurityContext = {
  runAsUser: 0,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function placementFor(
  tags: string[] | undefined,
  config: ResolvedK8sConfig,
): { nodeSelector?: Record<string, string>; tolerations?: Toleration[] } {
  const nodeSelector: Record<string, string> = {};
  const tolerations: Toleration[] = [];
  for (const tag of tags ?? []) {
    const placement = config.placement[tag];
    if (!placement) {
      const known = Object.keys(config.placement);
      throw new RuntimeError(
        `no Kubernetes placement is configured for step tag '${tag}'${known.length > 0 ? ` (configured: ${known.join(', ')})` : ''}`,
      );
    }
    Object.assign(nodeSelector, placement.nodeSelector ?? {});
    tolerations.push(...(placement.tolerations ?? []));
  }
  return {
    ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
  };
}

/**
 * pvc mode: outputs are subPath mounts of the claim; inputs are copied from it by the init container (or
 * mounted read-only in place with `inputs: 'mount'`).
 */
function pvcLayout(input: StepPodInput, claimName: string, inputsMode: 'copy' | 'mount'): PodLayout {
  const { workDir } = input;
  const outputs = input.mounts.filter((mount) => !mount.readOnly);
  const inputs = input.mounts.filter((mount) => mount.readOnly);
  const copiedInputs = inputsMode === 'copy' ? inputs : [];
  const mountedInputs = inputsMode === 'copy' ? [] : inputs;
  const outputAtWorkDir = outputs.some((mount) => mount.mountPath === workDir);

  const volumes: VolumeManifest[] = [
    { name: HELPER_VOLUME, emptyDir: {} },
    { name: CLAIM_VOLUME, persistentVolumeClaim: { claimName } },
  ];
  const helperMount: VolumeMount = { name: HELPER_VOLUME, mountPath: HELPER_ROOT };
  const mainMounts: VolumeMount[] = [helperMount];
  const initMounts: VolumeMount[] = [
    helperMount,
    { name: CLAIM_VOLUME, mountPath: CLAIM_IN_INIT, readOnly: true },
  ];
  if (!outputAtWorkDir) {
    volumes.push({ name: WORKSPACE_VOLUME, emptyDir: {} });
    const workspace = { name: WORKSPACE_VOLUME, mountPath: workDir };
    mainMounts.push(workspace);
    initMounts.push(workspace);
  }
  // Inputs copied to absolute paths outside the workspace need somewhere to land: an emptyDir each.
  copiedInputs
    .filter((mount) => outputAtWorkDir || !isWithin(workDir, mount.mountPath))
    .filter((mount) => !outputs.some((output) => isWithin(output.mountPath, mount.mountPath)))
    .forEach((mount, index) => {
      const name = `input-${index}`;
      volumes.push({ name, emptyDir: {} });
      mainMounts.push({ name, mountPath: mount.mountPath });
      initMounts.push({ name, mountPath: mount.mountPath });
    });
  // Shallow paths first, so nested mounts land on top of their parents.
  const byDepth = (a: ClaimMount, b: ClaimMount) =>
    a.mountPath.split('/').length - b.mountPath.split('/').length;
  for (const output of [...outputs].sort(byDepth)) {
    const mount = { name: CLAIM_VOLUME, mountPath: output.mountPath, subPath: output.subPath };
    mainMounts.push(mount);
    // Also in the init container: an input copied to an output's path starts the output with its content.
    initMounts.push(mount);
  }
  for (const mounted of [...mountedInputs].sort(byDepth)) {
    mainMounts.push({
      name: CLAIM_VOLUME,
      mountPath: mounted.mountPath,
      subPath: mounted.subPath,
      readOnly: true,
    });
  }

  return {
    volumes,
    initMounts,
    mainMounts,
    copyArgs: copiedInputs.map((mount) => `--input=${CLAIM_IN_INIT}/${mount.subPath}=${mount.mountPath}`),
  };
}

/**
 * stream mode: no claim. The workspace is an emptyDir, and so is every streamed path outside it; the web
 * streams volumes in and outputs out through execs into `main`. The init container only installs the helper.
 */
function streamLayout(workDir: string, streamedPaths: string[], createdPaths: string[]): PodLayout {
  const helperMount: VolumeMount = { name: HELPER_VOLUME, mountPath: HELPER_ROOT };
  const volumes: VolumeManifest[] = [
    { name: HELPER_VOLUME, emptyDir: {} },
    { name: WORKSPACE_VOLUME, emptyDir: {} },
  ];
  const mainMounts: VolumeMount[] = [helperMount, { name: WORKSPACE_VOLUME, mountPath: workDir }];
  outsideRoots(workDir, [...streamedPaths, ...createdPaths]).forEach((root, index) => {
    const name = `streamed-${index}`;
    volumes.push({ name, emptyDir: {} });
    mainMounts.push({ name, mountPath: root });
  });
  // Empty outputs cost no exec: the init container creates them (it then needs the step's emptyDirs too).
  const initMounts = createdPaths.length > 0 ? [...mainMounts] : [helperMount];
  return { volumes, initMounts, mainMounts, copyArgs: createdPaths.map((each) => `--mkdir=${each}`) };
}

/**
 * One pod per step:
 * - init container `jetbridge-init` (helper image): installs the helper into the `jetbridge` emptyDir and
 *   copies the step's inputs from the claim into the workspace, in parallel;
 * - container `main` (the step's image): idles on the helper; JetBridge execs every process into it, so
 *   the pod outlives each command (output collection, hijack);
 * - outputs are subPath mounts of the claim (`<dir>/data/<handle>`): the step writes its artifacts in place;
 * - no env in the spec (params travel to the helper over exec stdin), no service account token, no service
 *   links, restartPolicy Never.
 */
export function buildStepPod(input: StepPodInput, config: ResolvedK8sConfig): Pod {
  const { spec, workDir } = input;
  const privileged = spec.privileged === true;
  if (privileged && !config.allowPrivileged) {
    throw new RuntimeError(
      `step ${spec.metadata.stepName ?? spec.handle} asks for privileged: true, which this JetBridge does not allow on Kubernetes (an operator can enable it with allowPrivileged)`,
    );
  }
  const image = imageReference(spec.image, config.defaultImage);
  const pullSecrets = [
    ...config.imagePullSecrets,
    ...(spec.image?.kind === 'registry' ? (spec.image.pullSecrets ?? []) : []),
  ];

  const artifacts = config.artifacts;
  let layout: PodLayout;
  if (input.layout) layout = input.layout;
  else if (artifacts.mode === 'stream')
    layout = streamLayout(workDir, input.streamedPaths ?? [], input.createdPaths ?? []);
  else if (artifacts.mode === 'pvc') layout = pvcLayout(input, artifacts.claimName, artifacts.inputs);
  else throw new RuntimeError('a node-local step pod needs the layout src/node-local/ makes');
  const { volumes, initMounts, mainMounts } = layout;

  const init: ContainerManifest = {
    name: INIT_CONTAINER,
    image: config.helperImage,
    imagePullPolicy: 'IfNotPresent',
    command: [
      config.helperBinaryPath,
      ...(layout.initArgs ?? ['copy', `--to=${HELPER_PATH}`, ...layout.copyArgs]),
    ],
    ...(layout.initEnv ? { env: layout.initEnv } : {}),
    volumeMounts: initMounts,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
    securityContext: INIT_SECURITY_CONTEXT,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const main: ContainerManifest = {
    name: MAIN_CONTAINER,
    image,
    command: [HELPER_PATH, 'idle'],
    workingDir: workDir,
    volumeMounts: mainMounts,
    resources: resourcesFor(spec.limits, config.resources),
    securityContext: mainSecurityContext(privileged, config.capabilities),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: input.podName,
      namespace: config.namespace,
      labels: input.labels,
      annotations: input.annotations,
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: config.terminationGracePeriodSeconds,
      ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
      ...(pullSecrets.length > 0
        ? { imagePullSecrets: [...new Set(pullSecrets)].map((name) => ({ name })) }
        : {}),
      ...placementFor(spec.tags, config),
      ...(layout.affinity ? { affinity: layout.affinity } : {}),
      volumes,
      initContainers: [init],
      containers: [main],
    },
  };
}
