import { ApiError } from './api-error.js';
import { getByName, listInNamespace, metadataForCreate } from './namespaced-objects.js';
import { withKind } from './present.js';
import type { Secret } from './types.js';
import { readJsonBody, type Router } from '../http/router.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';

const presentSecret = withKind<Secret>('Secret');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * `data` as the API server stores it: base64 values checked, `stringData` encoded and merged over them
 * (stringData is write-only and never returned).
 */
function normalizedData(body: Partial<Secret>, name: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(body.data ?? {})) {
    if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
      throw ApiError.invalid('Secret', name, `data[${key}]: Invalid value: illegal base64 data`);
    }
    data[key] = value;
  }
  for (const [key, value] of Object.entries(body.stringData ?? {})) {
    data[key] = Buffer.from(String(value), 'utf8').toString('base64');
  }
  return data;
}

/** core/v1 secrets: create, get, list, replace (PUT) and delete, namespaced; `data` in base64 as the real API. */
export function registerSecretRoutes(
  router: Router,
  deps: { secrets: ObjectStore<Secret>; clock: ResourceVersionClock },
): void {
  router
    .add('GET', '/api/v1/namespaces/:namespace/secrets', listInNamespace('Secret', deps.secrets, deps.clock))
    .add('POST', '/api/v1/namespaces/:namespace/secrets', async (context) => {
      const body = (await readJsonBody(context.req)) as Partial<Secret>;
      const namespace = context.params.namespace ?? '';
      const metadata = metadataForCreate(
        body,
        namespace,
        { kind: 'Secret', resource: 'secrets' },
        deps.secrets,
      );
      const created = deps.secrets.create({
        metadata,
        type: body.type ?? 'Opaque',
        data: normalizedData(body, metadata.name),
      });
      return { status: 201, body: presentSecret(created) };
    })
    .add(
      'GET',
      '/api/v1/namespaces/:namespace/secrets/:name',
      getByName('secrets', deps.secrets, presentSecret),
    )
    .add('PUT', '/api/v1/namespaces/:namespace/secrets/:name', async (context) => {
      const namespace = context.params.namespace ?? '';
      const name = context.params.name ?? '';
      const body = (await readJsonBody(context.req)) as Partial<Secret>;
      const data = normalizedData(body, name);
      const updated = deps.secrets.update(namespace, name, (secret) => {
        secret.data = data;
        if (body.metadata?.labels !== undefined) secret.metadata.labels = body.metadata.labels;
        if (body.metadata?.annotations !== undefined) secret.metadata.annotations = body.metadata.annotations;
      });
      if (!updated) throw ApiError.notFound('secrets', name);
      return { body: presentSecret(updated) };
    })
    .add('DELETE', '/api/v1/namespaces/:namespace/secrets/:name', (context) => {
      const name = context.params.name ?? '';
      const secret = deps.secrets.delete(context.params.namespace ?? '', name);
      if (!secret) throw ApiError.notFound('secrets', name);
      return { body: presentSecret(secret) };
    });
}
