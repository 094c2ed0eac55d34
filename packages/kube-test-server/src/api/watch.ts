import type { ServerResponse } from 'node:http';
import type { KubeObject, WatchEventType } from './types.js';
import type { ObjectStore, ResourceVersionClock, StoredEvent } from '../store/object-store.js';
import { ApiError } from './api-error.js';
import type { RequestContext } from '../http/router.js';

interface OpenWatch {
  res: ServerResponse;
  close(): void;
}

export interface WatchSpec<T extends KubeObject> {
  store: ObjectStore<T>;
  matches: (object: T) => boolean;
  /** Adds kind/apiVersion, which watch events carry on every object. */
  present: (object: T) => T;
  kind: string;
}

/**
 * Serves `?watch=true` streams (one JSON event per line) with the API server's resourceVersion semantics:
 * unset or "0" → synthetic ADDED for every current object, then changes; N → every change after N, or a single
 * ERROR event carrying a 410 Expired Status when N is older than the retained history (the watch cache's answer).
 * Keeps the open streams so tests can end them silently or expire them.
 */
export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  constructor(
    private readonly clock: ResourceVersionClock,
    private readonly bookmarkIntervalMs: number,
  ) {}

  get count(): number {
    return this.open.size;
  }

  serve<T extends KubeObject>({ req, res, query }: RequestContext, spec: WatchSpec<T>): 'streamed' {
    const requested = query.get('resourceVersion');
    let backlog: { type: WatchEventType; object: unknown }[];
    if (!requested || requested === '0') {
      backlog = spec.store
        .list(spec.matches)
        .map((object) => ({ type: 'ADDED', object: spec.present(object) }));
    } else {
      const from = Number(requested);
      if (!Number.isInteger(from) || from < 0)
        throw ApiError.badRequest(`invalid resourceVersion "${requested}"`);
      const events = spec.store.eventsSince(from);
      if (events === 'expired') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const status = ApiError.expired(requested, String(spec.store.oldestResourceVersion)).toStatus();
        res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
        return 'streamed';
      }
      backlog = events.flatMap((event) => this.translate(event, spec));
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const write = (type: WatchEventType, object: unknown): void => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    for (const event of backlog) write(event.type, event.object);
    const unsubscribe = spec.store.subscribe((event) => {
      for (const translated of this.translate(event, spec)) write(translated.type, translated.object);
    });
    const timers: NodeJS.Timeout[] = [];
    const watch: OpenWatch = {
      res,
      close: () => {
        unsubscribe();
        for (const timer of timers) clearTimeout(timer);
        this.open.delete(watch);
        if (!res.writableEnded) res.end();
      },
    };
    this.open.add(watch);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) timers.push(setTimeout(watch.close, timeoutSeconds * 1000));
    if (query.get('allowWatchBookmarks') === 'true' && this.bookmarkIntervalMs > 0) {
      const bookmark = setInterval(
        () =>
          write('BOOKMARK', {
            kind: spec.kind,
            apiVersion: 'v1',
            metadata: { resourceVersion: String(this.clock.value) },
          }),
        this.bookmarkIntervalMs,
      );
      timers.push(bookmark);
    }
    req.on('close', watch.close);
    return 'streamed';
  }

  /** Ends every open watch without an error event: the client just sees the stream finish. */
  endSilently(): number {
    const watches = [...this.open];
    for (const watch of watches) watch.close();
    return watches.length;
  }

  /** Sends a 410 Expired ERROR event on every open watch, then ends it. */
  expire(): number {
    const watches = [...this.open];
    for (const watch of watches) {
      const status = ApiError.expired('0', String(this.clock.value)).toStatus();
      if (!watch.res.writableEnded) watch.res.write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      watch.close();
    }
    return watches.length;
  }

  /** Maps a stored change to what a filtered watcher sees (objects entering or leaving its selector). */
  private translate<T extends KubeObject>(
    event: StoredEvent<T>,
    spec: WatchSpec<T>,
  ): { type: WatchEventType; object: unknown }[] {
    const now = spec.matches(event.object);
    const before = event.previous ? spec.matches(event.previous) : false;
    const object = spec.present(event.object);
    switch (event.type) {
      case 'ADDED':
        return now ? [{ type: 'ADDED', object }] : [];
      case 'DELETED':
        return before || now ? [{ type: 'DELETED', object }] : [];
      case 'MODIFIED':
        if (now && before) return [{ type: 'MODIFIED', object }];
        if (now) return [{ type: 'ADDED', object }];
        if (before) return [{ type: 'DELETED', object }];
        return [];
    }
  }
}
