import { randomUUID } from 'node:crypto';
import { ApiError } from './api-error.js';
import { listOf } from './present.js';
import type { KubeObject, ObjectMeta } from './types.js';
import type { Handler } from '../http/router.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';
import { labelSelector } from '../store/selectors.js';

// What the plain namespaced kinds (secrets, persistentvolumeclaims) handle alike: list by label selector, get
// by name, and the metadata a create stamps. Pods differ (generateName, scheduling) and keep their own.

/** GET …/namespaces/:namespace/<resource>: the namespace's objects matching `labelSelector`. */
export function listInNamespace<T extends KubeObject>(
  kind: string,
  store: ObjectStore<T>,
  clock: ResourceVersionClock,
): Handler {
  return (context) => {
    const matches = labelSelector(context.query.get('labelSelector'));
    const namespace = context.params.namespace ?? '';
    const items = store.list((object) => object.metadata.namespace === namespace && matches(object));
    return { body: listOf(kind, items, clock.value) };
  };
}

/** GET …/namespaces/:namespace/<resource>/:name: the object, or 404. */
export function getByName<T extends KubeObject>(
  resource: string,
  store: ObjectStore<T>,
  present: (object: T) => T,
): Handler {
  return (context) => {
    const object = store.get(context.params.namespace ?? '', context.params.name ?? '');
    if (!object) throw ApiError.notFound(resource, context.params.name ?? '');
    return { body: present(object) };
  };
}

/**
 * The metadata of an object about to be created from `body`: a name is required and must be free in the
 * namespace; the server sets namespace, uid and creation time.
 */
export function metadataForCreate<T extends KubeObject>(
  body: Partial<T>,
  namespace: string,
  names: { kind: string; resource: string },
  store: ObjectStore<T>,
): ObjectMeta & { name: string } {
  const name = body.metadata?.name;
  if (!name) throw ApiError.invalid(names.kind, '', 'metadata.name: Required value');
  if (store.get(namespace, name)) throw ApiError.alreadyExists(names.resource, name);
  return {
    ...body.metadata,
    name,
    namespace,
    uid: randomUUID(),
    creationTimestamp: new Date().toISOString(),
  };
}
