import { mkdir, rm } from 'node:fs/promises';
import { ApiError } from './api-error.js';
import { getByName, listInNamespace, metadataForCreate } from './namespaced-objects.js';
import { withKind } from './present.js';
import type { PersistentVolumeClaim } from './types.js';
import { readJsonBody, type Router } from '../http/router.js';
import type { Kubelet } from '../kubelet/kubelet.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';

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
    .add(
      'GET',
      '/api/v1/namespaces/:namespace/persistentvolumeclaims',
      listInNamespace('PersistentVolumeClaim', deps.claims, deps.clock),
    )
    .add('POST', '/api/v1/namespaces/:namespace/persistentvolumeclaims', async (context) => {
      const body = (await readJsonBody(context.req)) as Partial<PersistentVolumeClaim>;
      const namespace = context.params.namespace ?? '';
      const metadata = metadataForCreate(
        body,
        namespace,
        { kind: 'PersistentVolumeClaim', resource: 'persistentvolumeclaims' },
        deps.claims,
      );
      await mkdir(deps.kubelet.claimDir(namespace, metadata.name), { recursive: true });
      const spec = body.spec ?? {};
      const created = deps.claims.create({
        metadata,
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
    .add(
      'GET',
      '/api/v1/namespaces/:namespace/persistentvolumeclaims/:name',
      getByName('persistentvolumeclaims', deps.claims, presentClaim),
    )
    .add('DELETE', '/api/v1/namespaces/:namespace/persistentvolumeclaims/:name', async (context) => {
      const namespace = context.params.namespace ?? '';
      const name = context.params.name ?? '';
      const claim = deps.claims.delete(namespace, name);
      if (!claim) throw ApiError.notFound('persistentvolumeclaims', name);
      await rm(deps.kubelet.claimDir(namespace, name), { recursive: true, force: true });
      return { body: presentClaim(claim) };
    });
}
