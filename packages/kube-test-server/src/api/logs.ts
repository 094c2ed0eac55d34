import { open } from 'node:fs/promises';
import { ApiError } from './api-error.js';
import type { Pod } from './types.js';
import type { Reply, Router } from '../http/router.js';
import type { Kubelet } from '../kubelet/kubelet.js';
import type { ObjectStore } from '../store/object-store.js';

const FOLLOW_POLL_MS = 100;

function containerTerminated(pod: Pod | undefined, container: string): boolean {
  if (!pod) return true;
  const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])];
  return statuses.find((status) => status.name === container)?.state.terminated !== undefined;
}

/** core/v1 pods/log: the container's combined stdout/stderr; `follow=true` streams until the container ends. */
export function registerLogRoutes(router: Router, deps: { pods: ObjectStore<Pod>; kubelet: Kubelet }): void {
  router.add(
    'GET',
    '/api/v1/namespaces/:namespace/pods/:name/log',
    async ({ req, res, params, query }): Promise<Reply> => {
      const namespace = params.namespace ?? '';
      const name = params.name ?? '';
      const pod = deps.pods.get(namespace, name);
      if (!pod) throw ApiError.notFound('pods', name);
      let container = query.get('container');
      if (!container) {
        if (pod.spec.containers.length !== 1) {
          throw ApiError.badRequest(
            `a container name must be specified for pod ${name}, choose one of: [${pod.spec.containers.map((c) => c.name).join(' ')}]`,
          );
        }
        container = pod.spec.containers[0]?.name ?? '';
      }
      const chosen = container;
      let file;
      try {
        file = await open(deps.kubelet.logFile(pod, chosen), 'r');
      } catch {
        throw ApiError.badRequest(
          `container "${chosen}" in pod "${name}" is waiting to start: ContainerCreating`,
        );
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      let offset = 0;
      let closed = false;
      req.on('close', () => (closed = true));
      const drain = async (): Promise<void> => {
        const buffer = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) return;
          offset += bytesRead;
          res.write(Buffer.from(buffer.subarray(0, bytesRead)));
        }
      };
      try {
        await drain();
        while (
          query.get('follow') === 'true' &&
          !closed &&
          !containerTerminated(deps.pods.get(namespace, name), chosen)
        ) {
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
          await drain();
        }
        await drain();
      } finally {
        await file.close();
        res.end();
      }
      return 'streamed';
    },
  );
}
