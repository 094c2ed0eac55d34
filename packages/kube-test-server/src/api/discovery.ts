import type { Router } from '../http/router.js';

const resources = [
  {
    name: 'pods',
    singularName: 'pod',
    namespaced: true,
    kind: 'Pod',
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
    shortNames: ['po'],
    categories: ['all'],
  },
  { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
  { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
  {
    name: 'events',
    singularName: 'event',
    namespaced: true,
    kind: 'Event',
    verbs: ['get', 'list', 'watch'],
    shortNames: ['ev'],
  },
  {
    name: 'persistentvolumeclaims',
    singularName: 'persistentvolumeclaim',
    namespaced: true,
    kind: 'PersistentVolumeClaim',
    verbs: ['create', 'delete', 'get', 'list', 'watch'],
    shortNames: ['pvc'],
  },
  {
    name: 'secrets',
    singularName: 'secret',
    namespaced: true,
    kind: 'Secret',
    verbs: ['create', 'delete', 'get', 'list', 'update'],
  },
  {
    name: 'nodes',
    singularName: 'node',
    namespaced: false,
    kind: 'Node',
    verbs: ['get', 'list'],
    shortNames: ['no'],
  },
  {
    name: 'namespaces',
    singularName: 'namespace',
    namespaced: false,
    kind: 'Namespace',
    verbs: ['get', 'list'],
    shortNames: ['ns'],
  },
];

/** Legacy (non-aggregated) discovery: enough for kubectl to map `pods`, `po`, `events`, `pvc` to this server. */
export function registerDiscoveryRoutes(router: Router, serverAddress: () => string): void {
  router
    .add('GET', '/version', () => ({
      body: {
        major: '1',
        minor: '35',
        gitVersion: 'v1.35.0-jetbridge-kube-test-server',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.25.0',
        compiler: 'gc',
        platform: 'linux/amd64',
      },
    }))
    .add('GET', '/api', () => ({
      body: {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: serverAddress() }],
      },
    }))
    .add('GET', '/apis', () => ({ body: { kind: 'APIGroupList', apiVersion: 'v1', groups: [] } }))
    .add('GET', '/api/v1', () => ({ body: { kind: 'APIResourceList', groupVersion: 'v1', resources } }))
    .add('GET', '/healthz', () => ({ body: 'ok' }))
    .add('GET', '/readyz', () => ({ body: 'ok' }))
    .add('GET', '/livez', () => ({ body: 'ok' }));
}
