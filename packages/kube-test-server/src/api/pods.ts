import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from './api-error.js';
import { podTable } from './pod-table.js';
import { listOf, mergePatch, withKind } from './present.js';
import type { Container, Pod } from './types.js';
import type { WatchHub } from './watch.js';
import { readJsonBody, type RequestContext, type Router } from '../http/router.js';
import type { Kubelet } from '../kubelet/kubelet.js';
import { validateVolumes } from '../kubelet/volumes.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';
import { fieldSelector, labelSelector } from '../store/selectors.js';

export interface PodRouteDeps {
  pods: ObjectStore<Pod>;
  kubelet: Kubelet;
  watches: WatchHub;
  clock: ResourceVersionClock;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const presentPod = withKind<Pod>('Pod');

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates a create request and fills in what the API server defaults (uid, timestamps, restartPolicy…). */
function admitPod(body: unknown, namespace: string): Pod {
  if (!isRecord(body) || !isRecord(body.metadata) || !isRecord(body.spec)) {
    throw ApiError.badRequest('a Pod needs metadata and spec');
  }
  const metadata = { ...body.metadata } as Pod['metadata'];
  if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
    throw ApiError.badRequest(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
  if (!metadata.name) {
    if (!metadata.generateName)
      throw ApiError.invalid('Pod', '', 'metadata.name: Required value: name or generateName is required');
    metadata.name = `${metadata.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
  }
  const name = metadata.name;
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw ApiError.invalid(
      'Pod',
      name,
      `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    );
  }
  const spec = structuredClone(body.spec) as unknown as Pod['spec'];
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    throw ApiError.invalid('Pod', name, 'spec.containers: Required value');
  }
  const seen = new Set<string>();
  for (const container of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
    if (typeof container.name !== 'string' || !DNS_LABEL.test(container.name)) {
      throw ApiError.invalid('Pod', name, `spec.containers.name: Invalid value: "${String(container.name)}"`);
    }
    if (seen.has(container.name))
      throw ApiError.invalid('Pod', name, `spec.containers[${container.name}].name: Duplicate value`);
    seen.add(container.name);
  }
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.dnsPolicy ??= 'ClusterFirst';
  const pod: Pod = {
    metadata: { ...metadata, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
    spec,
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
  delete pod.metadata.resourceVersion;
  validateVolumes(pod);
  return pod;
}

function wantsTable(context: RequestContext): boolean {
  return (context.req.headers.accept ?? '').includes('as=Table');
}

function listPods(context: RequestContext, deps: PodRouteDeps, namespace: string | undefined) {
  const matchesLabels = labelSelector(context.query.get('labelSelector'));
  const matchesFields = fieldSelector(context.query.get('fieldSelector'));
  const matches = (pod: Pod): boolean =>
    (namespace === undefined || pod.metadata.namespace === namespace) &&
    matchesLabels(pod) &&
    matchesFields(pod);
  const watch = context.query.get('watch');
  if (watch === 'true' || watch === '1') {
    return deps.watches.serve(context, { store: deps.pods, matches, present: presentPod, kind: 'Pod' });
  }
  const items = deps.pods.list(matches);
  return {
    body: wantsTable(context) ? podTable(items, deps.clock.value) : listOf('Pod', items, deps.clock.value),
  };
}

function gracePeriodOf(context: RequestContext, body: unknown): number | undefined {
  const fromQuery = context.query.get('gracePeriodSeconds');
  if (fromQuery !== null) return Number(fromQuery);
  if (isRecord(body) && typeof body.gracePeriodSeconds === 'number') return body.gracePeriodSeconds;
  return undefined;
}

/** core/v1 pods: create, get, list, watch, delete (graceful), patch of metadata. */
export function registerPodRoutes(router: Router, deps: PodRouteDeps): void {
  router
    .add('GET', '/api/v1/pods', (context) => listPods(context, deps, undefined))
    .add('GET', '/api/v1/namespaces/:namespace/pods', (context) =>
      listPods(context, deps, context.params.namespace ?? 'default'),
    )
    .add('POST', '/api/v1/namespaces/:namespace/pods', async (context) => {
      const pod = admitPod(await readJsonBody(context.req), context.params.namespace ?? 'default');
      const name = pod.metadata.name ?? '';
      if (deps.pods.get(pod.metadata.namespace ?? '', name)) throw ApiError.alreadyExists('pods', name);
      const created = deps.pods.create(pod);
      deps.kubelet.admit(created);
      return { status: 201, body: presentPod(created) };
    })
    .add('GET', '/api/v1/namespaces/:namespace/pods/:name', (context) => {
      const pod = deps.pods.get(context.params.namespace ?? '', context.params.name ?? '');
      if (!pod) throw ApiError.notFound('pods', context.params.name ?? '');
      return { body: presentPod(pod) };
    })
    .add('DELETE', '/api/v1/namespaces/:namespace/pods/:name', async (context) => {
      const body = await readJsonBody(context.req);
      const pod = await deps.kubelet.delete(
        context.params.namespace ?? '',
        context.params.name ?? '',
        gracePeriodOf(context, body),
      );
      return { body: presentPod(pod) };
    })
    .add('PATCH', '/api/v1/namespaces/:namespace/pods/:name', async (context) => {
      const type = context.req.headers['content-type'] ?? '';
      if (!type.includes('merge-patch+json')) {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the test server accepts merge and strategic-merge patches, not ${type}`,
        );
      }
      const patch = await readJsonBody(context.req);
      const namespace = context.params.namespace ?? '';
      const name = context.params.name ?? '';
      if (!isRecord(patch)) throw ApiError.badRequest('a patch must be a JSON object');
      const updated = deps.pods.update(namespace, name, (pod) => {
        // Only metadata (labels, annotations) is mutable here; spec is immutable on a real pod too.
        if (patch.metadata !== undefined) {
          const merged = mergePatch(pod.metadata, patch.metadata) as Pod['metadata'];
          pod.metadata = {
            ...merged,
            name: pod.metadata.name,
            namespace: pod.metadata.namespace,
            uid: pod.metadata.uid,
          };
        }
      });
      if (!updated) throw ApiError.notFound('pods', name);
      return { body: presentPod(updated) };
    });
}
