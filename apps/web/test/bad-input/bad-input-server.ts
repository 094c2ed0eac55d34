// Shared by the bad-input suites: a real server with two teams that must stay apart, and a request helper
// that never hangs on a long-lived answer (event streams, hijack upgrades) and reads at most a bounded body.
import type { RegisteredRoute } from '../../src/app.js';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from '../harness.js';
import { bearer, request } from '../http-client.js';

export interface Answer {
  status: number;
  contentType: string;
  /** The body's first `maxBody` bytes, as text. */
  body: string;
}

export interface BadInputServer {
  ts: TestServer;
  /** Owner of `main` (team A); no role on team B. */
  admin: string;
  /** Owner of team B; no role on `main`. */
  alice: string;
  teamB: string;
  routes: RegisteredRoute[];
  send(
    method: string,
    path: string,
    options?: {
      token?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      timeoutMs?: number;
    },
  ): Promise<Answer>;
  /** The server still answers (used after each batch of hostile input). */
  alive(): Promise<boolean>;
  /** Log lines at error level or worse, i.e. what the server calls its own failures. */
  errorLogs(): Array<Record<string, unknown>>;
  destroy(): Promise<void>;
}

export async function startBadInputServer(
  options: { env?: NodeJS.ProcessEnv; teamB?: string } = {},
): Promise<BadInputServer> {
  const ts = await startTestServer({ env: options.env ?? {} });
  const admin = await loginToken(ts.url, ADMIN);
  const teamB = options.teamB ?? 'team-b';
  const created = await request(`${ts.url}/api/v1/teams/${teamB}`, {
    method: 'PUT',
    headers: { ...bearer(admin), 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { owner: { users: [`local:${PLAIN_USER.username}`], groups: [] } } }),
  });
  if (created.status !== 201) throw new Error(`team ${teamB}: ${created.status} ${created.text}`);
  const alice = await loginToken(ts.url, PLAIN_USER);

  const send: BadInputServer['send'] = async (method, path, sendOptions = {}) => {
    const headers: Record<string, string> = { ...sendOptions.headers };
    if (sendOptions.token) headers.authorization = `Bearer ${sendOptions.token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), sendOptions.timeoutMs ?? 10_000);
    try {
      const response = await fetch(`${ts.url}${path}`, {
        method,
        headers,
        ...(sendOptions.body !== undefined && method !== 'GET' && method !== 'HEAD'
          ? { body: sendOptions.body }
          : {}),
        redirect: 'manual',
        signal: controller.signal,
      });
      const contentType = response.headers.get('content-type') ?? '';
      // An event stream never ends by itself: its status and first frames are the answer.
      const maxBody = contentType.startsWith('text/event-stream') ? 4096 : 256 * 1024;
      const body = await readSome(response, maxBody);
      return { status: response.status, contentType, body };
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  };

  return {
    ts,
    admin,
    alice,
    teamB,
    routes: ts.server.app.registeredRoutes,
    send,
    alive: async () => (await fetch(`${ts.url}/api/v1/info`)).status === 200,
    errorLogs: () => ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50),
    destroy: () => ts.destroy(),
  };
}

async function readSome(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      size += value.byteLength;
    }
  } catch {
    // aborted: what arrived is the answer
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** A route's path with each `:param` (and `*`) replaced by `fill(name)`, URL-encoded. */
export function fillPath(url: string, fill: (param: string) => string): string {
  return url
    .split('/')
    .map((segment) => {
      if (segment === '*') return encodeURIComponent(fill('*'));
      if (segment.startsWith(':')) return encodeURIComponent(fill(segment.slice(1)));
      return segment;
    })
    .join('/');
}

/** A log line as a failure message: its message, the error's, and the request it was about. */
export function describeLogLine(line: Record<string, unknown>): string {
  const err = line.err as { message?: unknown } | undefined;
  const req = line.req as { method?: unknown; url?: unknown } | undefined;
  return [line.msg, err?.message, req ? `${String(req.method)} ${String(req.url).slice(0, 120)}` : undefined]
    .filter((part) => part !== undefined)
    .map((part) => String(part).slice(0, 300))
    .join(' — ');
}
