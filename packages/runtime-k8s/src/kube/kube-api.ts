import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { KubeStatus } from './pod-types.js';
import {
  backoffMs,
  defaultRetryPolicy,
  isTransient,
  retryAfterMs,
  type RetryPolicy,
} from './retry-policy.js';

/**
 * What the runtime needs of a client-node `KubeConfig`: the cluster URL and credentials/TLS applied to
 * request options (the same two methods the exec transport uses), so token refresh and exec/OIDC auth plugins
 * keep working.
 */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** An API request the server answered with an error Status (or that never got an answer: httpStatus 0). */
export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly httpStatus: number,
    readonly reason: string,
    readonly serverMessage: string,
    options?: { cause?: unknown; retryAfter?: string; attempts?: number },
  ) {
    const attempts = options?.attempts ?? 1;
    super(
      `${method} ${path}: ${httpStatus === 0 ? '' : `HTTP ${httpStatus} `}${reason}: ${serverMessage}` +
        (attempts > 1 ? ` (gave up after ${attempts} attempts)` : ''),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'KubeApiError';
    this.retryAfter = options?.retryAfter;
    this.attempts = attempts;
  }

  /** The answer's Retry-After header, when it had one. */
  readonly retryAfter: string | undefined;
  /** How many times the request was sent before this answer was final. */
  readonly attempts: number;

  /** The same failure, noting that it was the last of `attempts` tries. */
  afterAttempts(attempts: number): KubeApiError {
    return new KubeApiError(this.method, this.path, this.httpStatus, this.reason, this.serverMessage, {
      cause: this,
      attempts,
      ...(this.retryAfter === undefined ? {} : { retryAfter: this.retryAfter }),
    });
  }

  get isTransient(): boolean {
    return isTransient(this.httpStatus, this.reason);
  }

  get isNotFound(): boolean {
    return this.httpStatus === 404;
  }

  get isConflict(): boolean {
    return this.httpStatus === 409;
  }
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A thin JSON client for the few core/v1 calls the runtime makes (pods, events, claims, logs) and for its own
 * watch loop. Deliberately not client-node's generated API: we own timeouts, error mapping and the watch
 * stream (client-node's Watch aborts every watch after 30 s and its informer stops on most errors; see
 * shared/k8s-notes.md §4.3, §8.2).
 */
export class KubeApi {
  constructor(
    private readonly kubeConfig: KubeConfigLike,
    private readonly retryPolicy: RetryPolicy = defaultRetryPolicy(),
  ) {}

  /**
   * One call, repeated on transient failures (see retry-policy.ts) with exponential backoff — at least as
   * long as a Retry-After asks — until it succeeds, fails for good, or the retry budget would be exceeded;
   * then the last failure is thrown (its `attempts` says how many tries it took).
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const deadline = Date.now() + this.retryPolicy.budgetMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.requestOnce<T>(method, path, options);
      } catch (error) {
        if (!(error instanceof KubeApiError) || !error.isTransient || options.signal?.aborted) {
          throw attempt > 1 && error instanceof KubeApiError ? error.afterAttempts(attempt) : error;
        }
        // The backoff is cut short to leave a last try at the deadline; a Retry-After beyond it is not.
        const remaining = deadline - Date.now();
        const asked = retryAfterMs(error.retryAfter) ?? 0;
        if (remaining <= 0 || asked > remaining) throw attempt > 1 ? error.afterAttempts(attempt) : error;
        await sleep(
          Math.min(remaining, Math.max(backoffMs(this.retryPolicy, attempt), asked)),
          options.signal,
        );
        if (options.signal?.aborted) throw attempt > 1 ? error.afterAttempts(attempt) : error;
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const response = await this.send(method, path, options);
    let text: string;
    try {
      text = await readAll(response);
    } catch (error) {
      // The connection went away mid-answer: as good as no answer.
      throw new KubeApiError(method, path, 0, 'ConnectionFailed', (error as Error).message, { cause: error });
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw errorFromResponse(method, path, status, text, headerValue(response.headers['retry-after']));
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A streaming GET (watch, follow logs); the caller consumes and destroys the response. */
  async stream(path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const response = await this.send('GET', path, { ...options, timeoutMs: options.timeoutMs ?? 0 });
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw errorFromResponse('GET', path, status, await readAll(response));
    }
    return response;
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster)
      throw new KubeApiError(method, path, 0, 'NoCluster', 'the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const requestOptions: https.RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(requestOptions);
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers = { ...(requestOptions.headers as Record<string, string>) };
    if (body) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(body.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = transport.request(url, { ...requestOptions, method, headers }, resolve);
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      if (timeoutMs > 0) {
        request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      }
      const onAbort = (): void => {
        request.destroy(new Error('aborted'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      request.on('close', () => options.signal?.removeEventListener('abort', onAbort));
      request.on('error', (error) =>
        reject(new KubeApiError(method, path, 0, 'ConnectionFailed', error.message, { cause: error })),
      );
      request.end(body);
    });
  }
}

async function readAll(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function errorFromResponse(
  method: string,
  path: string,
  status: number,
  text: string,
  retryAfter?: string,
): KubeApiError {
  let reason = http.STATUS_CODES[status] ?? 'Error';
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed.reason) reason = parsed.reason;
    if (parsed.message) message = parsed.message;
  } catch {
    // not a Status: keep the body
  }
  return new KubeApiError(method, path, status, reason, message, {
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}
