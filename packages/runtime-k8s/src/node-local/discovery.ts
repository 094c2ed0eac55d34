import type { KubeApi } from '../kube/kube-api.js';
import type { Pod } from '../kube/pod-types.js';
import type { DaemonDiscovery } from './config.js';
import type { EndpointLister } from './daemon-directory.js';

/**
 * The daemons as the cluster runs them: the DaemonSet's pods that are Running and Ready, each on its node at
 * the node's IP (the daemon listens on a hostPort). A node whose daemon pod is gone, failing or not ready yet
 * has no endpoint, so no step pod is placed there and no input is fetched from it.
 */
export function discoverDaemons(
  api: KubeApi,
  discovery: DaemonDiscovery,
  defaultNamespace: string,
): EndpointLister {
  const namespace = discovery.namespace ?? defaultNamespace;
  const scheme = discovery.scheme ?? 'http';
  return async () => {
    const list = await api.request<{ items: Pod[] }>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      {
        query: { labelSelector: discovery.labelSelector },
        timeoutMs: 10_000,
      },
    );
    const endpoints = new Map<string, string>();
    for (const pod of list.items) {
      const node = pod.spec.nodeName;
      const hostIP = pod.status?.hostIP;
      const ready = pod.status?.conditions?.some(
        (condition) => condition.type === 'Ready' && condition.status === 'True',
      );
      if (!node || !hostIP || pod.status?.phase !== 'Running' || !ready || pod.metadata.deletionTimestamp)
        continue;
      const host = hostIP.includes(':') ? `[${hostIP}]` : hostIP;
      endpoints.set(node, `${scheme}://${host}:${discovery.port}`);
    }
    return endpoints;
  };
}
