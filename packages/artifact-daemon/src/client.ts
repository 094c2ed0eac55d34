import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BYTES_TRAILER, DigestStream, SHA256_TRAILER } from './digest-stream.js';

/** TLS settings of a client: the CA that signed the daemons' certificates, and a client certificate for mTLS. */
export interface DaemonClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface DaemonClientOptions {
  tls?: DaemonClientTls;
  /** Attempts for idempotent operations and replayable uploads. Default 4. */
  attempts?: number;
  /** First retry delay, doubled each time. Default 200 ms. */
  retryDelayMs?: number;
  /** Per-request inactivity limit. Default 60 s. */
  timeoutMs?: number;
}

/** A refused or failed daemon request. `retryable` when another attempt may succeed (connection lost, 5xx but 507). */
export class DaemonRequestError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | undefined,
    readonly code: string | undefined,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DaemonRequestError';
  }
}

export interface DaemonHealth {
  node: string;
  ready: boolean;
  reason?: string;
  capacity: { totalBytes: number; availableBytes: number };
  artifacts: number;
}

export interface ArtifactStat {
  handle: string;
  team: string;
  type: string;
  owner: unknown;
  createdAt: string;
  bytes: number;
  files: number;
}

export interface ListedArtifact {
  handle: string;
  team: string;
  type: string;
  owner: unknown;
  createdAt: string;
}

export interface TransferResult {
  bytes: number;
  sha256: string;
  attempts: number;
}

/** Opens a tar stream; the returned stream fails at its end when the checksum trailer is missing or wrong. */
export interface TarReadOptions {
  path?: string;
  gzip?: boolean;
}

/**
 * HTTP(S) client of one artifact daemon. Reads are verified (the daemon's SHA-256 trailer must match what
 * arrived, so a cut or corrupted transfer is never taken for a complete one) and retried with backoff when
 * the caller can redo them.
 */
export class ArtifactDaemonClient {
  readonly baseUrl: URL;
  readonly #options: Required<Omit<DaemonClientOptions, 'tls'>> & { tls: DaemonClientTls };

  constructor(baseUrl: string | URL, options: DaemonClientOptions = {}) {
    this.baseUrl = new URL(baseUrl);
    if (this.baseUrl.protocol !== 'http:' && this.baseUrl.protocol !== 'https:') {
      throw new Error(`artifact daemon URL must be http(s): ${this.baseUrl.href}`);
    }
    this.#options = {
      tls: options.tls ?? {},
      attempts: Math.max(1, options.attempts ?? 4),
      retryDelayMs: options.retryDelayMs ?? 200,
      timeoutMs: options.timeoutMs ?? 60_000,
    };
  }

  async health(): Promise<DaemonHealth> {
    return this.#retrying(async () => {
      const res = await this.#send('GET', '/healthz');
      const body = await readBody(res);
      if (res.statusCode !== 200 && res.statusCode !== 503) throw errorOf(res, body);
      return JSON.parse(body) as DaemonHealth;
    });
  }

  /** The artifact's metadata and size, or undefined when the daemon does not have it. */
  async stat(handle: string, token: string): Promise<ArtifactStat | undefined> {
    return this.#retrying(async () => {
      const res = await this.#send('GET', `${artifactPath(handle)}/stat`, token);
      const body = await readBody(res);
      if (res.statusCode === 404) return undefined;
      if (res.statusCode !== 200) throw errorOf(res, body);
      return JSON.parse(body) as ArtifactStat;
    });
  }

  async list(token: string): Promise<ListedArtifact[]> {
    return this.#retrying(async () => {
      const res = await this.#send('GET', '/artifacts', token);
      const body = await readBody(res);
      if (res.statusCode !== 200) throw errorOf(res, body);
      return (JSON.parse(body) as { artifacts: ListedArtifact[] }).artifacts;
    });
  }

  /**
   * One attempt at reading the artifact as a tar stream (gzip'd with `gzip`). The stream errors instead of
   * ending when the transfer was incomplete or does not match the daemon's checksum.
   */
  async openTar(handle: string, token: string, options: TarReadOptions = {}): Promise<Readable> {
    const query = new URLSearchParams();
    if (options.path !== undefined && options.path !== '.') query.set('path', options.path);
    if (options.gzip) query.set('gzip', '1');
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    const res = await this.#send('GET', `${artifactPath(handle)}${suffix}`, token);
    if (res.statusCode !== 200) throw errorOf(res, await readBody(res));
    const verify = new DigestStream(({ sha256, bytes }) => verifyTrailers(res, sha256, bytes));
    res.on('error', (error) => verify.destroy(incomplete(error)));
    res.on('aborted', () => verify.destroy(incomplete(new Error('connection aborted'))));
    res.pipe(verify);
    return verify;
  }

  /**
   * Reads the artifact and hands the verified stream to `consume` (e.g. an extraction into a fresh
   * directory); a failed attempt that may succeed again is retried from the start, `consume` included, so
   * it must undo or tolerate a partial earlier attempt.
   */
  async readTar(
    handle: string,
    token: string,
    consume: (tar: Readable, attempt: number) => Promise<void>,
    options: TarReadOptions = {},
  ): Promise<TransferResult> {
    let attempts = 0;
    return this.#retrying(async () => {
      attempts++;
      const tar = await this.openTar(handle, token, options);
      const digest = new DigestStream();
      // The consumer sees errors while it reads; afterwards they are reported below, not thrown at large.
      digest.on('error', () => undefined);
      tar.on('error', (error) => digest.destroy(error));
      tar.pipe(digest);
      await consume(digest, attempts);
      if (digest.errored) throw digest.errored;
      if (!digest.readableEnded) {
        tar.destroy();
        throw new DaemonRequestError(
          'the reader stopped before the end of the artifact',
          undefined,
          'unread',
          false,
        );
      }
      return { bytes: digest.bytes, sha256: digest.sha256, attempts };
    });
  }

  /**
   * Creates the artifact from a tar stream. `source` is called once per attempt, so a replayable source (a
   * directory, a file) is retried after a lost connection; a one-shot stream should not be retried (pass
   * `attempts: 1` in the client options, or return the same stream and accept the error).
   */
  async put(
    handle: string,
    token: string,
    source: () => Readable | Promise<Readable>,
    options: { gzip?: boolean } = {},
  ): Promise<{ bytes: number; entries: number; attempts: number }> {
    let attempts = 0;
    return this.#retrying(async () => {
      attempts++;
      const body = await source();
      const headers: Record<string, string> = { 'content-type': 'application/x-tar' };
      if (options.gzip) headers['content-encoding'] = 'gzip';
      const res = await this.#send('PUT', artifactPath(handle), token, body, headers);
      const text = await readBody(res);
      if (res.statusCode !== 201) throw errorOf(res, text);
      return { ...(JSON.parse(text) as { bytes: number; entries: number }), attempts };
    });
  }

  /**
   * Turns the step's output directory (written through a hostPath mount) into a complete artifact; with
   * `replace`, over an artifact of the same handle (an output that started from its earlier content).
   */
  async commit(handle: string, token: string, options: { replace?: boolean } = {}): Promise<void> {
    const suffix = options.replace ? '?replace=1' : '';
    const res = await this.#send('POST', `${artifactPath(handle)}/commit${suffix}`, token);
    const text = await readBody(res);
    if (res.statusCode !== 201) throw errorOf(res, text);
  }

  /** Extracts a tar into `path` of an existing artifact. One attempt: the stream cannot be replayed. */
  async extract(handle: string, token: string, path: string, tar: Readable): Promise<void> {
    const query = new URLSearchParams({ path });
    const res = await this.#send('POST', `${artifactPath(handle)}/extract?${query.toString()}`, token, tar, {
      'content-type': 'application/x-tar',
    });
    const text = await readBody(res);
    if (res.statusCode !== 200) throw errorOf(res, text);
  }

  /** Asks this daemon to copy the artifact from a peer daemon (a mirror, or pulling an input closer). */
  async pullFrom(
    handle: string,
    token: string,
    source: { url: string; token: string },
  ): Promise<TransferResult> {
    const body = Buffer.from(JSON.stringify(source));
    const res = await this.#send('POST', `${artifactPath(handle)}/pull`, token, body, {
      'content-type': 'application/json',
    });
    const text = await readBody(res);
    if (res.statusCode !== 201) throw errorOf(res, text);
    return JSON.parse(text) as TransferResult;
  }

  /** Renews the artifact's lease (the TTL sweep keeps what the web still wants). */
  async renew(handle: string, token: string): Promise<void> {
    await this.#retrying(async () => {
      const res = await this.#send('POST', `${artifactPath(handle)}/lease`, token);
      const text = await readBody(res);
      if (res.statusCode !== 204) throw errorOf(res, text);
    });
  }

  /** Deletes the artifact (idempotent). */
  async delete(handle: string, token: string): Promise<void> {
    await this.#retrying(async () => {
      const res = await this.#send('DELETE', artifactPath(handle), token);
      const text = await readBody(res);
      if (res.statusCode !== 204) throw errorOf(res, text);
    });
  }

  async #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    let delay = this.#options.retryDelayMs;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = !(error instanceof DaemonRequestError) || error.retryable;
        if (!retryable || n >= this.#options.attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }

  #send(
    method: string,
    pathAndQuery: string,
    token?: string,
    body?: Readable | Buffer,
    headers: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    const url = new URL(pathAndQuery, this.baseUrl);
    const { tls, timeoutMs } = this.#options;
    const requestHeaders: Record<string, string> = { ...headers };
    if (token) requestHeaders.authorization = `Bearer ${token}`;
    if (Buffer.isBuffer(body)) requestHeaders['content-length'] = String(body.length);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const options = { method, headers: requestHeaders, timeout: timeoutMs };
      const req =
        url.protocol === 'https:'
          ? httpsRequest(url, { ...options, ca: tls.ca, cert: tls.cert, key: tls.key }, resolve)
          : httpRequest(url, options, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
      req.on('error', (error) =>
        reject(
          new DaemonRequestError(
            `artifact daemon ${url.host} unreachable: ${error.message}`,
            undefined,
            (error as NodeJS.ErrnoException).code,
            true,
            { cause: error },
          ),
        ),
      );
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else
        pipeline(body, req).catch((error: unknown) =>
          req.destroy(error instanceof Error ? error : new Error(String(error))),
        );
    });
  }
}

function artifactPath(handle: string): string {
  return `/artifacts/${encodeURIComponent(handle)}`;
}

function incomplete(cause: unknown): DaemonRequestError {
  return new DaemonRequestError(
    `the artifact transfer was interrupted: ${cause instanceof Error ? cause.message : String(cause)}`,
    undefined,
    'interrupted',
    true,
    { cause },
  );
}

function verifyTrailers(res: IncomingMessage, sha256: string, bytes: number): Error | undefined {
  const expected = res.trailers[SHA256_TRAILER];
  const expectedBytes = res.trailers[BYTES_TRAILER];
  if (!expected) {
    return new DaemonRequestError(
      'the artifact transfer ended without its checksum: the daemon stopped mid-transfer',
      undefined,
      'incomplete',
      true,
    );
  }
  if (expected !== sha256 || Number(expectedBytes) !== bytes) {
    return new DaemonRequestError(
      `the artifact transfer is corrupt: got ${bytes} bytes with SHA-256 ${sha256}, the daemon sent ${expectedBytes} bytes with ${expected}`,
      undefined,
      'checksum_mismatch',
      true,
    );
  }
  return undefined;
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function errorOf(res: IncomingMessage, body: string): DaemonRequestError {
  const status = res.statusCode ?? 0;
  let message = body;
  let code: string | undefined;
  try {
    const parsed = JSON.parse(body) as { message?: string; error?: string };
    message = parsed.message ?? body;
    code = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  const retryable = status >= 500 && status !== 507 && status !== 501;
  return new DaemonRequestError(message || `HTTP ${status}`, status, code, retryable);
}
