import type { Pod } from './types.js';

function age(since: string | undefined): string {
  if (!since) return '<unknown>';
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h`;
}

/** What `kubectl get pods` shows in STATUS: a waiting/terminated reason beats the phase, as in the real printer. */
function displayStatus(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  if (pod.status.reason) return pod.status.reason;
  for (const status of pod.status.initContainerStatuses ?? []) {
    if (status.state.terminated && status.state.terminated.exitCode !== 0)
      return `Init:${status.state.terminated.reason}`;
    if (status.state.running || status.state.waiting?.reason === 'PodInitializing') {
      const done = (pod.status.initContainerStatuses ?? []).filter((each) => each.state.terminated).length;
      if (status.state.running) return `Init:${done}/${pod.status.initContainerStatuses?.length ?? 0}`;
    }
  }
  for (const status of pod.status.containerStatuses ?? []) {
    if (status.state.terminated && pod.status.phase !== 'Running') return status.state.terminated.reason;
    if (status.state.waiting && status.state.waiting.reason !== 'PodInitializing')
      return status.state.waiting.reason;
  }
  return pod.status.phase;
}

/** The meta.k8s.io/v1 Table the API server returns for `Accept: …;as=Table` (what kubectl get prints). */
export function podTable(pods: Pod[], resourceVersion: number): unknown {
  const column = (name: string, type: string, priority: number, format = ''): unknown => ({
    name,
    type,
    format,
    description: '',
    priority,
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: String(resourceVersion) },
    columnDefinitions: [
      column('Name', 'string', 0, 'name'),
      column('Ready', 'string', 0),
      column('Status', 'string', 0),
      column('Restarts', 'string', 0),
      column('Age', 'string', 0),
      column('IP', 'string', 1),
      column('Node', 'string', 1),
    ],
    rows: pods.map((pod) => {
      const statuses = pod.status.containerStatuses ?? [];
      const ready = statuses.filter((status) => status.ready).length;
      const restarts = statuses.reduce((sum, status) => sum + status.restartCount, 0);
      return {
        cells: [
          pod.metadata.name ?? '',
          `${ready}/${pod.spec.containers.length}`,
          displayStatus(pod),
          String(restarts),
          age(pod.metadata.creationTimestamp),
          pod.status.podIP ?? '<none>',
          pod.spec.nodeName ?? '<none>',
        ],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata },
      };
    }),
  };
}
