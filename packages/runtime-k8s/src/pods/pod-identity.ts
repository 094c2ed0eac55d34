import { createHash } from 'node:crypto';
import type { ContainerMetadata } from '@jetbridge/runtime';
import type { Pod } from '../kube/pod-types.js';

// How JetBridge recognises its pods: labels to select and read them by (sanitized), annotations with the exact
// values (handle, metadata) from which a restarted web rebuilds its containers.

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  instance: 'jetbridge.io/instance',
  handleHash: 'jetbridge.io/handle-hash',
  type: 'jetbridge.io/type',
  team: 'jetbridge.io/team',
  pipeline: 'jetbridge.io/pipeline',
  job: 'jetbridge.io/job',
  build: 'jetbridge.io/build',
  buildName: 'jetbridge.io/build-name',
  step: 'jetbridge.io/step',
} as const;

export const ANNOTATIONS = {
  handle: 'jetbridge.io/handle',
  metadata: 'jetbridge.io/metadata',
  workDir: 'jetbridge.io/work-dir',
  worker: 'jetbridge.io/worker',
  lastExit: 'jetbridge.io/last-exit',
  /** stream mode: the outputs to collect when a process ends (JSON), so a restarted web collects them too. */
  streamedOutputs: 'jetbridge.io/streamed-outputs',
} as const;

export const MANAGED_BY = 'jetbridge';

export function handleHash(handle: string): string {
  return createHash('sha256').update(handle).digest('hex').slice(0, 16);
}

/** The selector of every pod of one JetBridge installation. */
export function instanceSelector(instance: string): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.instance}=${instance}`;
}

/**
 * A label value from anything: invalid characters become `-`, at most 63 characters, starting and ending
 * alphanumeric (labels are for selecting and reading; exact values are in the annotations).
 */
export function labelValue(value: string | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cleaned = String(value)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned === '' ? undefined : cleaned;
}

function dnsPart(value: string | number | undefined): string {
  return String(value ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * `jb-<type>-<pipeline>-<job>-<build>-<step>-<hash>`, cut to 63 characters (it is also the pod's hostname),
 * readable in `kubectl get pods` and unique through the handle's hash.
 */
export function podNameFor(handle: string, metadata: ContainerMetadata): string {
  const hash = handleHash(handle).slice(0, 10);
  const readable = [
    metadata.type,
    metadata.pipelineName,
    metadata.jobName,
    metadata.buildName === undefined ? undefined : `b${metadata.buildName}`,
    metadata.stepName ?? metadata.resourceName,
  ]
    .map(dnsPart)
    .filter((part) => part !== '')
    .join('-');
  const room = 63 - 'jb-'.length - hash.length - 1;
  const prefix = readable.slice(0, room).replace(/-+$/, '');
  return `jb-${prefix === '' ? '' : `${prefix}-`}${hash}`;
}

export function podLabels(
  instance: string,
  handle: string,
  metadata: ContainerMetadata,
): Record<string, string> {
  const labels: Record<string, string | undefined> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.instance]: instance,
    [LABELS.handleHash]: handleHash(handle),
    [LABELS.type]: labelValue(metadata.type),
    [LABELS.team]: labelValue(metadata.teamName),
    [LABELS.pipeline]: labelValue(metadata.pipelineName),
    [LABELS.job]: labelValue(metadata.jobName),
    [LABELS.build]: labelValue(metadata.buildId),
    [LABELS.buildName]: labelValue(metadata.buildName),
    [LABELS.step]: labelValue(metadata.stepName ?? metadata.resourceName),
  };
  return Object.fromEntries(
    Object.entries(labels).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

export function podAnnotations(
  handle: string,
  metadata: ContainerMetadata,
  workDir: string,
  worker: string,
): Record<string, string> {
  return {
    [ANNOTATIONS.handle]: handle,
    [ANNOTATIONS.metadata]: JSON.stringify(metadata),
    [ANNOTATIONS.workDir]: workDir,
    [ANNOTATIONS.worker]: worker,
  };
}

/** What a pod says about the container it carries, or undefined for a pod that is not one of ours. */
export function containerIdentity(
  pod: Pod,
): { handle: string; metadata: ContainerMetadata; workDir: string } | undefined {
  const annotations = pod.metadata.annotations ?? {};
  const handle = annotations[ANNOTATIONS.handle];
  if (!handle) return undefined;
  let metadata: ContainerMetadata = { type: 'task', teamName: '' };
  try {
    metadata = JSON.parse(annotations[ANNOTATIONS.metadata] ?? '') as ContainerMetadata;
  } catch {
    // keep the placeholder: the container is still ours and can be listed and reaped
  }
  return { handle, metadata, workDir: annotations[ANNOTATIONS.workDir] ?? '/' };
}

/** The last process exit a web recorded on the pod (for keep-for-hijack), if any. */
export function lastExitOf(pod: Pod): { id: string; status: number; at: string } | undefined {
  const value = pod.metadata.annotations?.[ANNOTATIONS.lastExit];
  if (!value) return undefined;
  try {
    return JSON.parse(value) as { id: string; status: number; at: string };
  } catch {
    return undefined;
  }
}

/** What a stream-mode pod says about its outputs (as {@link ANNOTATIONS.streamedOutputs} recorded them). */
export interface StreamedOutputRecord {
  handle: string;
  containerPath: string;
  dir: string;
  relative: string;
}

export function streamedOutputsOf(pod: Pod): StreamedOutputRecord[] {
  const value = pod.metadata.annotations?.[ANNOTATIONS.streamedOutputs];
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (each): each is StreamedOutputRecord =>
        typeof each === 'object' &&
        each !== null &&
        ['handle', 'containerPath', 'dir', 'relative'].every(
          (key) => typeof (each as Record<string, unknown>)[key] === 'string',
        ),
    );
  } catch {
    return [];
  }
}
