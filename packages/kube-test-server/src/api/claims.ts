import { mkdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { ApiError } from './api-error.js';
import { listOf, withKind } from './present.js';
import type { PersistentVolumeClaim } from './types.js';
import { readJsonBody, type Router } from '../http/router.js';
import type { Kubelet } from '../kubelet/kubelet.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';
import { labelSelector } from '../store/selectors.js';

const presentClaim = withKind<PersistentVolumeClaim>('PersistentVolumeClaim');

/**
 * core/v1 persistentvolumeclaims: a claim is Bound at once to a directory on the host
 * (`<stateDir>/pvcs/<namespace>/<name>`); pods waiting for it are reconsidered. Deleting it deletes the data
 * (reclaim policy Delete).
 */
export function registerClaimRoutes(
  router: Router,
  deps: { claims: ObjectStore<PersistentVolumeClaim>; kubelet: Kubelet; clock: ResourceVersionClock },
): void {
  router
    .add('GET', '/api/v1/namespaces/:namespace/persistentvolumeclaims', (context) => {
      const matches = labelSelector(context.query.get('labelSelector'));
      const namespace = context.params.namespace ?? '';
      const items = deps.claims.list((claim) => claim.metadata.namespace === namespace && matches(claim));
      return { body: listOf('PersistentVolumeClaim', items, deps.clock.value) };
    })
    .add('POST', '/api/v1/namespaces/:namespace/persistentvolumeclaims', async (context) => {
      const body = (await readJsonBody(context.req)) as Partial<PersistentVolumeClaim>;
      const namespace = context.params.namespace ?? '';
      const name = body.metadata?.name;
      if (!name) throw ApiError.invalid('PersistentVolumeClaim', '', 'metadata.name: Required value');
      if (deps.claims.get(namespace, name)) throw ApiError.alreadyExists('persistentvolumeclaims', name);
      await mkdir(deps.kubelet.claimDir(namespace, name), { recursive: true });
      const spec = body.spec ?? {};
      const created = deps.claims.create({
        metadata: {
          ...body.metadata,
          name,
          namespace,
          uid: randomUUID(),
          creationTimestamp: new Date().toISOString(),
        },
        spec,
        status: {
          phase: 'Bound',
          accessModes: spec.accessModes ?? ['ReadWriteOnce'],
          capacity: { storage: spec.resources?.requests?.storage ?? '1Gi' },
        },
      });
      deps.kubelet.reconsiderPending();
      return { status: 201, body: presentClaim(created) };
    })
    .add('GET', '/api/v1/namespaces/:namespace/persistentvolumeclaims/:name', (context) => {
      const claim = deps.claims.get(context.params.namespace ?? '', context.params.name ?? '');
      if (!claim) throw ApiError.notFound('persistentvolumeclaims', context.params.name ?? '');
      return { body: presentClaim(claim) };
    })
    .add('DELETE', '/api/v1/namespaces/:namespace/persistentvolumeclaims/:name', async (context) => {
      const namespace = context.params.namespace ?? '';
      const name = context.params.name ?? '';
      const claim = deps.claims.delete(namespace, name);
      if (!claim) throw ApiError.notFound('persistentvolumeclaims', name);
      await rm(deps.kubelet.claimDir(namespace, name), { recursive: true, force: true });
      return { body: presentClaim(claim) };
    });
}
