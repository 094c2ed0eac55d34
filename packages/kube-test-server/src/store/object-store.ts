import type { KubeObject } from '../api/types.js';

/** One change as the watch cache remembers it; `previous` lets watchers see objects leave a selector. */
export interface StoredEvent<T extends KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
  previous?: T;
  resourceVersion: number;
}

/** The cluster-wide revision counter: like etcd's, one sequence shared by every kind. */
export class ResourceVersionClock {
  private current = 1;

  next(): number {
    this.current += 1;
    return this.current;
  }

  get value(): number {
    return this.current;
  }
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Objects of one kind plus a bounded history of their changes. The history is what makes "watch from
 * resourceVersion N" work, and its bound (or an explicit compact) is what makes an old N answer 410 Gone.
 */
export class ObjectStore<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly history: StoredEvent<T>[] = [];
  /** Changes with a resourceVersion at or below this are forgotten. */
  private compactedThrough: number;
  private readonly listeners = new Set<(event: StoredEvent<T>) => void>();

  constructor(
    readonly kind: string,
    private readonly clock: ResourceVersionClock,
    private readonly historyLimit: number,
  ) {
    this.compactedThrough = clock.value;
  }

  get(namespace: string, name: string): T | undefined {
    const found = this.objects.get(keyOf(namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  list(filter: (object: T) => boolean = () => true): T[] {
    return [...this.objects.values()]
      .filter(filter)
      .sort((a, b) =>
        keyOf(a.metadata.namespace ?? '', a.metadata.name ?? '').localeCompare(
          keyOf(b.metadata.namespace ?? '', b.metadata.name ?? ''),
        ),
      )
      .map((object) => structuredClone(object));
  }

  create(object: T): T {
    const key = keyOf(object.metadata.namespace ?? '', object.metadata.name ?? '');
    if (this.objects.has(key)) throw new Error(`${this.kind} ${key} exists`);
    const stored = structuredClone(object);
    const rv = this.clock.next();
    stored.metadata.resourceVersion = String(rv);
    this.objects.set(key, stored);
    this.record({ type: 'ADDED', object: structuredClone(stored), resourceVersion: rv });
    return structuredClone(stored);
  }

  /** Applies `mutate` to the stored object; returns undefined when it no longer exists. */
  update(namespace: string, name: string, mutate: (object: T) => void): T | undefined {
    const key = keyOf(namespace, name);
    const current = this.objects.get(key);
    if (!current) return undefined;
    const previous = structuredClone(current);
    const next = structuredClone(current);
    mutate(next);
    const rv = this.clock.next();
    next.metadata.resourceVersion = String(rv);
    this.objects.set(key, next);
    this.record({ type: 'MODIFIED', object: structuredClone(next), previous, resourceVersion: rv });
    return structuredClone(next);
  }

  delete(namespace: string, name: string): T | undefined {
    const key = keyOf(namespace, name);
    const current = this.objects.get(key);
    if (!current) return undefined;
    this.objects.delete(key);
    const rv = this.clock.next();
    const last = structuredClone(current);
    last.metadata.resourceVersion = String(rv);
    this.record({ type: 'DELETED', object: last, previous: structuredClone(current), resourceVersion: rv });
    return structuredClone(last);
  }

  /** Changes after `resourceVersion`, or 'expired' when some of them were already forgotten. */
  eventsSince(resourceVersion: number): StoredEvent<T>[] | 'expired' {
    if (resourceVersion < this.compactedThrough) return 'expired';
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** The oldest resourceVersion a watch may still start from. */
  get oldestResourceVersion(): number {
    return this.compactedThrough;
  }

  /** Forgets all history, as an etcd compaction does: every watch from an older resourceVersion gets 410. */
  compact(): void {
    this.history.length = 0;
    this.compactedThrough = this.clock.value;
  }

  subscribe(listener: (event: StoredEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(event: StoredEvent<T>): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedThrough = dropped.resourceVersion;
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}
