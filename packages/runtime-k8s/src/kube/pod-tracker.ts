import type { IncomingMessage } from 'node:http';
import { KubeApiError, type KubeApi } from './kube-api.js';
import type { KubeStatus, Pod, PodList } from './pod-types.js';
import type { Logger } from '../logger.js';

export type PodChange = { type: 'upsert' | 'delete'; pod: Pod };

export interface PodTrackerOptions {
  api: KubeApi;
  namespace: string;
  labelSelector: string;
  /** A full re-list this often heals anything a watch missed. */
  resyncIntervalMs: number;
  /** Server-side watch timeout (jittered), after which the watch is resumed from the last resourceVersion. */
  watchTimeoutSeconds: number;
  logger: Logger;
  /** Told each time the watch has to be restarted, with why (metrics). */
  onWatchRestart?: (reason: 'expired' | 'ended' | 'error') => void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * The runtime's one view of its pods: a namespace-wide list + watch of every JetBridge pod (never one watch
 * per pod), resumed from the last resourceVersion when a watch ends, re-listed on 410 Gone, re-listed
 * periodically anyway, with backoff between failed attempts. Nothing decides a step's outcome from a single
 * watch event: callers read the latest object (or `refresh` it with a GET) when they need a verdict.
 */
export class PodTracker {
  private readonly pods = new Map<string, Pod>();
  /** Names deleted at a resourceVersion: a late, older event must not bring them back. */
  private readonly tombstones = new Map<string, string>();
  private readonly listeners = new Set<(change: PodChange) => void>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private currentWatch: AbortController | undefined;
  /** Ends the backoff sleep between watch attempts (stop must not wait it out). */
  private wakeUp: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly path: string;

  constructor(private readonly options: PodTrackerOptions) {
    this.path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  }

  /** Lists once (failing if the API server cannot be reached), then keeps watching in the background. */
  async start(): Promise<void> {
    await this.relist();
    this.loop = this.watchLoop();
    this.resyncTimer = setInterval(() => {
      this.relist().catch((error: unknown) =>
        this.options.logger.warn({ err: (error as Error).message }, 'periodic pod re-list failed'),
      );
    }, this.options.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.currentWatch?.abort();
    this.wakeUp?.();
    await this.loop?.catch(() => undefined);
  }

  get(name: string): Pod | undefined {
    return this.pods.get(name);
  }

  list(): Pod[] {
    return [...this.pods.values()];
  }

  subscribe(listener: (change: PodChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes in a pod this process got from the API (a create or get answer). */
  observe(pod: Pod): void {
    this.apply(pod);
  }

  /** GETs the pod now and records what it found; undefined when it no longer exists. */
  async refresh(name: string): Promise<Pod | undefined> {
    try {
      const pod = await this.options.api.request<Pod>('GET', `${this.path}/${encodeURIComponent(name)}`);
      this.apply(pod);
      return this.pods.get(name) ?? pod;
    } catch (error) {
      if (error instanceof KubeApiError && error.isNotFound) {
        this.remove(name, undefined);
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Resolves with `check`'s first defined answer, asked on every change of the pod and after every `pollMs`
   * GET (a watch can be quiet or late; a poll is the belt to its braces).
   */
  waitFor<T>(
    name: string,
    check: (pod: Pod | undefined) => T | undefined,
    options: { pollMs: number; signal?: AbortSignal },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (outcome: () => void): void => {
        if (done) return;
        done = true;
        unsubscribe();
        clearInterval(poller);
        options.signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const evaluate = (pod: Pod | undefined): void => {
        if (done) return;
        try {
          const answer = check(pod);
          if (answer !== undefined) finish(() => resolve(answer));
        } catch (error) {
          finish(() => reject(error));
        }
      };
      const unsubscribe = this.subscribe((change) => {
        if (change.pod.metadata.name === name) evaluate(change.type === 'delete' ? undefined : change.pod);
      });
      // One poll at a time: a GET may spend a while retrying (KubeApi's retry budget) while the API is down.
      let polling = false;
      const poller = setInterval(() => {
        if (polling) return;
        polling = true;
        this.refresh(name)
          .then(evaluate, (error: unknown) =>
            this.options.logger.warn({ pod: name, err: (error as Error).message }, 'pod poll failed'),
          )
          .finally(() => {
            polling = false;
          });
      }, options.pollMs);
      const onAbort = (): void => finish(() => reject(options.signal?.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort();
      evaluate(this.pods.get(name));
    });
  }

  private async relist(): Promise<void> {
    const list = await this.options.api.request<PodList>('GET', this.path, {
      query: { labelSelector: this.options.labelSelector },
    });
    const seen = new Set<string>();
    this.tombstones.clear();
    for (const pod of list.items) {
      seen.add(pod.metadata.name ?? '');
      this.apply(pod);
    }
    for (const name of [...this.pods.keys()]) if (!seen.has(name)) this.remove(name, undefined);
    this.resourceVersion = list.metadata.resourceVersion;
  }

  private async watchLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        const started = Date.now();
        const outcome = await this.watchOnce(this.resourceVersion);
        if (this.stopped) return;
        this.options.onWatchRestart?.(outcome);
        if (outcome === 'expired') {
          this.resourceVersion = undefined;
          failures = 0;
          continue;
        }
        // A watch that ends at once (a proxy closing it, a silent server) must not become a hot loop.
        failures = Date.now() - started > 1_000 ? 0 : failures + 1;
      } catch (error) {
        if (this.stopped) return;
        this.options.onWatchRestart?.('error');
        failures += 1;
        this.options.logger.warn(
          { err: (error as Error).message, attempt: failures },
          'pod watch failed; retrying',
        );
      }
      if (failures > 0) await this.sleep(backoffMs(failures));
    }
  }

  /** One watch request, until it ends ('ended') or the server says our resourceVersion is too old. */
  private async watchOnce(resourceVersion: string | undefined): Promise<'ended' | 'expired'> {
    const controller = new AbortController();
    this.currentWatch = controller;
    // stop() may have come while this loop was re-listing or sleeping: it aborted an older watch, not this one.
    if (this.stopped) return 'ended';
    const timeoutSeconds = this.options.watchTimeoutSeconds + Math.floor(Math.random() * 30);
    let response: IncomingMessage;
    try {
      response = await this.options.api.stream(this.path, {
        query: {
          watch: 'true',
          labelSelector: this.options.labelSelector,
          resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(timeoutSeconds),
        },
        signal: controller.signal,
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.httpStatus === 410) return 'expired';
      throw error;
    }
    // A half-open connection sends nothing: give up on it well after the server would have ended it.
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => response.destroy(new Error('watch idle')), (timeoutSeconds + 30) * 1000);
      idle.unref();
    };
    armIdle();
    const onAbort = (): void => {
      response.destroy();
    };
    controller.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let pending = '';
      for await (const chunk of response) {
        armIdle();
        pending += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line === '') continue;
          if (this.handleEvent(line) === 'expired') return 'expired';
        }
      }
      return 'ended';
    } catch (error) {
      if (controller.signal.aborted) return 'ended';
      throw error;
    } finally {
      clearTimeout(idle);
      controller.signal.removeEventListener('abort', onAbort);
      response.destroy();
    }
  }

  private handleEvent(line: string): 'expired' | undefined {
    let event: { type?: string; object?: Pod & KubeStatus };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      throw new Error(`unreadable watch event: ${line.slice(0, 200)}`);
    }
    const object = event.object;
    if (!object) return undefined;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.apply(object);
        break;
      case 'DELETED':
        this.remove(object.metadata.name ?? '', object);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        if (object.code === 410) return 'expired';
        throw new Error(`watch error: ${object.reason ?? ''} ${object.message ?? ''}`.trim());
      default:
        return undefined;
    }
    const version = object.metadata?.resourceVersion;
    if (version !== undefined) this.resourceVersion = version;
    return undefined;
  }

  private apply(pod: Pod): void {
    const name = pod.metadata.name;
    if (!name) return;
    const tombstone = this.tombstones.get(name);
    if (tombstone !== undefined && !isNewer(pod.metadata.resourceVersion, tombstone)) return;
    const current = this.pods.get(name);
    if (current && !isNewer(pod.metadata.resourceVersion, current.metadata.resourceVersion)) return;
    this.tombstones.delete(name);
    this.pods.set(name, pod);
    this.emit({ type: 'upsert', pod });
  }

  private remove(name: string, last: Pod | undefined): void {
    const current = this.pods.get(name);
    this.pods.delete(name);
    const version = last?.metadata.resourceVersion ?? current?.metadata.resourceVersion;
    if (version !== undefined) this.tombstones.set(name, version);
    const pod = last ?? current;
    if (pod) this.emit({ type: 'delete', pod });
  }

  private emit(change: PodChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.options.logger.warn({ err: (error as Error).message }, 'pod listener failed');
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

/**
 * resourceVersions are opaque, but every API server we know (etcd revisions, the test server) hands out
 * integers; when both are, a smaller one is an older state of the object and must not replace a newer one.
 */
function isNewer(candidate: string | undefined, current: string | undefined): boolean {
  if (candidate === undefined || current === undefined) return true;
  if (!/^\d+$/.test(candidate) || !/^\d+$/.test(current)) return true;
  return BigInt(candidate) >= BigInt(current);
}

function backoffMs(failures: number): number {
  const base = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures - 1, 10));
  return base / 2 + Math.random() * (base / 2);
}
