import { listOf, withKind } from './present.js';
import type { KubeEvent } from './types.js';
import type { WatchHub } from './watch.js';
import type { RequestContext, Router } from '../http/router.js';
import type { ObjectStore, ResourceVersionClock } from '../store/object-store.js';
import { fieldSelector, labelSelector } from '../store/selectors.js';

const presentEvent = withKind<KubeEvent>('Event');

/** core/v1 events: list (with `fieldSelector=involvedObject.name=…`) and watch. */
export function registerEventRoutes(
  router: Router,
  deps: { events: ObjectStore<KubeEvent>; watches: WatchHub; clock: ResourceVersionClock },
): void {
  const list = (context: RequestContext, namespace: string | undefined) => {
    const matchesLabels = labelSelector(context.query.get('labelSelector'));
    const matchesFields = fieldSelector(context.query.get('fieldSelector'));
    const matches = (event: KubeEvent): boolean =>
      (namespace === undefined || event.metadata.namespace === namespace) &&
      matchesLabels(event) &&
      matchesFields(event);
    if (context.query.get('watch') === 'true' || context.query.get('watch') === '1') {
      return deps.watches.serve(context, {
        store: deps.events,
        matches,
        present: presentEvent,
        kind: 'Event',
      });
    }
    return { body: listOf('Event', deps.events.list(matches), deps.clock.value) };
  };
  router
    .add('GET', '/api/v1/events', (context) => list(context, undefined))
    .add('GET', '/api/v1/namespaces/:namespace/events', (context) =>
      list(context, context.params.namespace ?? ''),
    );
}
