import type { Pod } from './types.js';
import type { Router } from '../http/router.js';
import type { ObjectStore } from '../store/object-store.js';

function namespaceObject(name: string): unknown {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name, uid: `namespace-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

/** Every namespace exists (objects may be created in any); listing shows `default` and those in use. */
export function registerNamespaceRoutes(router: Router, deps: { pods: ObjectStore<Pod> }): void {
  router
    .add('GET', '/api/v1/namespaces', () => {
      const names = new Set([
        'default',
        ...deps.pods.list().map((pod) => pod.metadata.namespace ?? 'default'),
      ]);
      return {
        body: {
          kind: 'NamespaceList',
          apiVersion: 'v1',
          metadata: {},
          items: [...names].sort().map(namespaceObject),
        },
      };
    })
    .add('GET', '/api/v1/namespaces/:namespace', (context) => ({
      body: namespaceObject(context.params.namespace ?? ''),
    }));
}
