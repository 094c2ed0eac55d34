import { csrfToken, refreshCsrfToken } from './csrf.js';

/**
 * Calls to the public API from the browser: the session cookie authenticates (same origin), and every
 * call that may change state carries `X-Csrf-Token` (§5.5). A 401 means the session is gone: the server
 * has cleared the cookies by then, so listeners are told to show the logged-out state.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly path: string,
  ) {
    super(`${status} from ${path}${body ? `: ${body}` : ''}`);
  }
}

const unauthorizedListeners = new Set<() => void>();

export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface ApiResponse<T> {
  body: T;
  headers: Headers;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    // A logged-in browser without the token (cleared storage, a login made for fly) gets it first:
    // sending a mutation without it would end the session.
    const token = csrfToken() ?? (await refreshCsrfToken());
    if (token) headers['x-csrf-token'] = token;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401) unauthorizedListeners.forEach((listener) => listener());
  if (!res.ok) throw new ApiError(res.status, await res.text().catch(() => ''), path);
  return res;
}

export async function getJson<T>(path: string): Promise<ApiResponse<T>> {
  const res = await send('GET', path);
  return { body: (await res.json()) as T, headers: res.headers };
}

/** GET that reads 404 as "absent" (an API area that does not exist yet, a build with no plan yet). */
export async function getJsonOrUndefined<T>(path: string): Promise<ApiResponse<T> | undefined> {
  try {
    return await getJson<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** PUT/POST/DELETE; the JSON answer if there is one. */
export async function mutate<T = unknown>(
  method: 'PUT' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T | undefined> {
  const res = await send(method, path, body);
  const text = await res.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'not authorized: log in again';
    if (err.status === 403) return `forbidden${err.body ? `: ${err.body}` : ''}`;
    if (err.status === 404) return 'not found';
    if (err.status === 409) return err.body || 'not allowed right now';
    return err.body || `request failed (${err.status})`;
  }
  return err instanceof Error ? err.message : String(err);
}
