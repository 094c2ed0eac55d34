import { randomUUID } from 'node:crypto';
import type { KubeEvent, Pod } from '../api/types.js';
import type { ObjectStore } from '../store/object-store.js';

/** Writes core/v1 Events about pods, as the scheduler and the kubelet do (`kubectl describe` and `events list`). */
export class EventRecorder {
  private lastStamp = 0n;

  constructor(
    private readonly events: ObjectStore<KubeEvent>,
    private readonly nodeName: string,
  ) {}

  /** Like the real recorder, names end in the hex of the time in ns, so listing by name lists by time. */
  private stamp(): string {
    const nanos = BigInt(Date.now()) * 1_000_000n;
    this.lastStamp = nanos > this.lastStamp ? nanos : this.lastStamp + 1n;
    return this.lastStamp.toString(16);
  }

  record(
    pod: Pod,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    options: { fieldPath?: string; component?: 'kubelet' | 'default-scheduler' } = {},
  ): void {
    const now = new Date().toISOString();
    const component = options.component ?? 'kubelet';
    const namespace = pod.metadata.namespace ?? 'default';
    const involvedObject: KubeEvent['involvedObject'] = {
      kind: 'Pod',
      namespace,
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
      apiVersion: 'v1',
    };
    if (options.fieldPath) involvedObject.fieldPath = options.fieldPath;
    this.events.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${pod.metadata.name ?? 'pod'}.${this.stamp()}`,
        namespace,
        uid: randomUUID(),
        creationTimestamp: now,
      },
      involvedObject,
      reason,
      message,
      type,
      source: component === 'kubelet' ? { component, host: this.nodeName } : { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? this.nodeName : '',
    });
  }
}
