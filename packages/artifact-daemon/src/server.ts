import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  ArtifactStore,
  ArtifactExistsError,
  ArtifactStoreError,
  createTarStream,
  extractTar,
  isValidHandle,
  type Artifact,
} from '@jetbridge/artifact-store';
import { capacityOf, isDiskFull, type Capacity } from './capacity.js';
import { CapabilityError, CapabilityKey, type CapabilityClaims, type CapabilityOp } from './capability.js';
import { ArtifactDaemonClient, DaemonRequestError, type DaemonClientTls } from './client.js';
import { BYTES_TRAILER, DigestStream, SHA256_TRAILER } from './digest-stream.js';
import { LeaseBook } from './leases.js';
import { treeSize } from './tree-size.js';

export interface DaemonLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const silent: DaemonLogger = { info: () => undefined, warn: () => undefined };

export interface DaemonTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA of the peers' certificates (for pulls from other daemons) and, with `requireClientCert`, of clients. */
  ca?: string | Buffer;
  /** mTLS: refuse clients without a certificate signed by `ca`. */
  requireClientCert?: boolean;
}

export interface ArtifactDaemonOptions {
  /** The node's artifact directory (a hostPath): artifact-store layout plus `incoming/` and `leases/`. */
  root: string;
  /** The HMAC key shared with the web, which signs the capability tokens. */
  capabilityKey: CapabilityKey | Buffer | string;
  host?: string;
  /** 0 picks a free port. Default 7780. */
  port?: number;
  /** Reported by /healthz. Default the host name. */
  nodeName?: string;
  tls?: DaemonTlsOptions;
  /** Artifacts unused this long are deleted by the sweep (orphans). Default 2 h. */
  ttlMs?: number;
  /** How often the sweep runs; 0 disables the timer (tests call `sweep()`). Default 5 min. */
  sweepIntervalMs?: number;
  /** Below this much free space the daemon reports not ready and refuses uploads with 507. Default 64 MiB. */
  minAvailableBytes?: number;
  logger?: DaemonLogger;
}

export interface SweepResult {
  expired: string[];
  strays: string[];
}

export interface ArtifactDaemon {
  readonly url: string;
  readonly port: number;
  readonly store: ArtifactStore;
  /** Deletes artifacts (and unfinished outputs) unused for the TTL, and the store's crash leftovers. */
  sweep(now?: number): Promise<SweepResult>;
  /** Stops listening and cuts open transfers (as a crash or a pod restart would). */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ARTIFACT_ROUTE = /^\/artifacts\/([^/]+)(\/stat|\/commit|\/pull|\/extract|\/lease)?$/;

/**
 * The per-node artifact daemon of the node-local artifact mode. Serves the node's artifacts as tar streams
 * (with a SHA-256 trailer), accepts new ones as tar uploads, adopts step outputs written in place through a
 * hostPath mount, pulls artifacts from peer daemons (mirrors), reports capacity and health, and sweeps
 * orphans. Every artifact route needs a capability token signed by the web for that artifact and team.
 */
export async function startArtifactDaemon(options: ArtifactDaemonOptions): Promise<ArtifactDaemon> {
  const key =
    options.capabilityKey instanceof CapabilityKey
      ? options.capabilityKey
      : new CapabilityKey(options.capabilityKey);
  const root = path.resolve(options.root);
  await mkdir(root, { recursive: true });
  const store = new ArtifactStore({ root });
  const incomingRoot = path.join(root, 'incoming');
  await mkdir(incomingRoot, { recursive: true });
  const logger = options.logger ?? silent;
  const nodeName = options.nodeName ?? hostname();
  const ttlMs = options.ttlMs ?? 2 * 60 * 60_000;
  const leases = new LeaseBook(root, Math.min(60_000, ttlMs / 4));
  const minAvailableBytes = options.minAvailableBytes ?? 64 * 1024 * 1024;
  const peerTls: DaemonClientTls | undefined = options.tls
    ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key }
    : undefined;
  /** Artifacts being read or written right now: never swept. */
  const busy = new Map<string, number>();
  const hold = (handle: string) => busy.set(handle, (busy.get(handle) ?? 0) + 1);
  const release = (handle: string) => {
    const left = (busy.get(handle) ?? 1) - 1;
    if (left <= 0) busy.delete(handle);
    else busy.set(handle, left);
  };

  const authorize = (req: IncomingMessage, op: CapabilityOp, handle: string): CapabilityClaims => {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    return key.verify(token, op, handle);
  };

  /** The artifact, if the capability's team owns it; 404 when absent, 403 for another team's artifact. */
  const artifactFor = async (handle: string, claims: CapabilityClaims): Promise<Artifact> => {
    const artifact = await store.lookup(handle);
    if (!artifact)
      throw new HttpError(404, 'artifact_missing', `artifact '${handle}' is not on node ${nodeName}`);
    if (artifact.teamName !== claims.team) {
      throw new HttpError(403, 'wrong_team', `the capability's team may not access artifact '${handle}'`);
    }
    return artifact;
  };

  const health = async (): Promise<{
    ready: boolean;
    reason?: string;
    capacity: Capacity;
    artifacts: number;
  }> => {
    const capacity = await capacityOf(root);
    const artifacts = (await readdir(path.join(root, 'meta')).catch(() => [])).filter((name) =>
      name.endsWith('.json'),
    ).length;
    if (capacity.availableBytes < minAvailableBytes) {
      return {
        ready: false,
        reason: `only ${capacity.availableBytes} bytes left on the artifact disk (minimum ${minAvailableBytes})`,
        capacity,
        artifacts,
      };
    }
    return { ready: true, capacity, artifacts };
  };

  const assertRoom = async (req: IncomingMessage): Promise<void> => {
    const { availableBytes } = await capacityOf(root);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (
      availableBytes < minAvailableBytes ||
      (declared > 0 && declared > availableBytes - minAvailableBytes)
    ) {
      throw new HttpError(
        507,
        'disk_full',
        `the artifact disk of node ${nodeName} is full (${availableBytes} bytes left)`,
      );
    }
  };

  const specOf = (handle: string, claims: CapabilityClaims) => {
    if (!claims.owner) throw new CapabilityError('the capability names no owner for a new artifact', 403);
    return { handle, owner: claims.owner, teamName: claims.team, type: claims.type ?? 'artifact' };
  };

  const handlers = {
    async getTar(req: IncomingMessage, res: ServerResponse, url: URL, handle: string): Promise<void> {
      const claims = authorize(req, 'get', handle);
      const artifact = await artifactFor(handle, claims);
      const gzip = url.searchParams.get('gzip') === '1';
      hold(handle);
      try {
        const tar = await createTarStream(artifact, url.searchParams.get('path') ?? '.', { gzip });
        await leases.touch(handle);
        const digest = new DigestStream();
        res.writeHead(200, {
          'content-type': gzip ? 'application/gzip' : 'application/x-tar',
          trailer: `${SHA256_TRAILER}, ${BYTES_TRAILER}`,
        });
        await pipeline(tar, digest, res, { end: false });
        res.addTrailers({ [SHA256_TRAILER]: digest.sha256, [BYTES_TRAILER]: String(digest.bytes) });
        res.end();
      } finally {
        release(handle);
      }
    },

    /** The web still wants the artifact: renews its lease, so the TTL sweep keeps it (a long build's early output). */
    async renew(req: IncomingMessage, res: ServerResponse, handle: string): Promise<void> {
      const claims = authorize(req, 'stat', handle);
      await artifactFor(handle, claims);
      await leases.touch(handle, Date.now(), true);
      res.writeHead(204).end();
    },

    async stat(req: IncomingMessage, res: ServerResponse, handle: string, headOnly: boolean): Promise<void> {
      const claims = authorize(req, 'stat', handle);
      const artifact = await artifactFor(handle, claims);
      const size = await treeSize(artifact.path);
      const body = {
        handle,
        team: artifact.teamName,
        type: artifact.type,
        owner: artifact.owner,
        createdAt: artifact.createdAt.toISOString(),
        bytes: size.bytes,
        files: size.files,
      };
      if (headOnly) {
        res.writeHead(200, {
          'x-jetbridge-team': artifact.teamName,
          'x-jetbridge-bytes': String(size.bytes),
          'x-jetbridge-files': String(size.files),
          'x-jetbridge-created-at': body.createdAt,
        });
        res.end();
        return;
      }
      sendJson(res, 200, body);
    },

    async put(req: IncomingMessage, res: ServerResponse, handle: string): Promise<void> {
      const claims = authorize(req, 'put', handle);
      const spec = specOf(handle, claims);
      await assertRoom(req);
      hold(handle);
      try {
        const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
        const digest = new DigestStream();
        req.pipe(digest);
        req.on('error', (error) => digest.destroy(error));
        req.on('aborted', () => digest.destroy(new Error('the upload was aborted')));
        const before = Date.now();
        const artifact = await store.allocateFromTar(spec, digest, { gzip });
        await leases.touch(handle);
        const size = await treeSize(artifact.path);
        logger.info(
          { handle, team: claims.team, step: claims.step, bytes: digest.bytes, ms: Date.now() - before },
          'artifact stored',
        );
        sendJson(res, 201, { handle, bytes: size.bytes, entries: size.files });
      } finally {
        release(handle);
      }
    },

    /**
     * Adopts `incoming/<handle>` (a step's output, written in place through a hostPath subPath mount). With
     * `?replace=1` an artifact of the same handle and team is replaced (the output started from its content).
     */
    async commit(req: IncomingMessage, res: ServerResponse, url: URL, handle: string): Promise<void> {
      const claims = authorize(req, 'put', handle);
      const spec = specOf(handle, claims);
      const existing = await store.lookup(handle);
      if (existing && url.searchParams.get('replace') === '1') {
        await artifactFor(handle, claims); // same team only
      } else if (existing) {
        throw new ArtifactExistsError(handle);
      }
      const incoming = path.join(incomingRoot, handle);
      const stats = await stat(incoming).catch(() => undefined);
      if (!stats?.isDirectory()) {
        throw new HttpError(404, 'output_not_found', `no output '${handle}' was written on node ${nodeName}`);
      }
      hold(handle);
      try {
        if (existing) await store.remove(handle);
        const artifact = await store.allocate(spec);
        // rename(2) replaces the empty directory allocate made: the content appears at once, whole.
        await rename(incoming, artifact.path);
        await leases.touch(handle);
        sendJson(res, 201, { handle });
      } finally {
        release(handle);
      }
    },

    /** Extracts a tar into `?path=` of an existing artifact (a volume streamed into after it was created). */
    async extract(req: IncomingMessage, res: ServerResponse, url: URL, handle: string): Promise<void> {
      const claims = authorize(req, 'put', handle);
      const artifact = await artifactFor(handle, claims);
      await assertRoom(req);
      hold(handle);
      try {
        const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
        const result = await extractTar(artifact, url.searchParams.get('path') ?? '.', req, { gzip });
        await leases.touch(handle);
        sendJson(res, 200, { handle, bytes: result.bytes, entries: result.entries });
      } finally {
        release(handle);
      }
    },

    /** Copies the artifact from a peer daemon (mirrors): verified, retried, all-or-nothing. */
    async pull(req: IncomingMessage, res: ServerResponse, handle: string): Promise<void> {
      const claims = authorize(req, 'put', handle);
      const spec = specOf(handle, claims);
      const source = parseJson(await readText(req, 64 * 1024)) as { url?: unknown; token?: unknown };
      if (typeof source.url !== 'string' || typeof source.token !== 'string') {
        throw new HttpError(
          400,
          'bad_request',
          'a pull needs {"url": <peer daemon>, "token": <its capability>}',
        );
      }
      if (await store.lookup(handle)) throw new ArtifactExistsError(handle);
      await assertRoom(req);
      const peer = new ArtifactDaemonClient(source.url, peerTls ? { tls: peerTls } : {});
      hold(handle);
      try {
        // allocateFromTar deletes what a failed attempt extracted, so each retry starts clean.
        const result = await peer.readTar(handle, source.token, async (tar) => {
          await store.allocateFromTar(spec, tar);
        });
        await leases.touch(handle);
        logger.info(
          { handle, from: source.url, bytes: result.bytes, attempts: result.attempts },
          'artifact pulled from a peer',
        );
        sendJson(res, 201, result);
      } catch (error) {
        if (error instanceof DaemonRequestError) {
          throw new HttpError(
            502,
            'peer_failed',
            `pulling '${handle}' from ${source.url} failed: ${error.message}`,
          );
        }
        throw error;
      } finally {
        release(handle);
      }
    },

    async remove(req: IncomingMessage, res: ServerResponse, handle: string): Promise<void> {
      const claims = authorize(req, 'delete', handle);
      const artifact = await store.lookup(handle);
      if (artifact && artifact.teamName !== claims.team) {
        throw new HttpError(403, 'wrong_team', `the capability's team may not delete artifact '${handle}'`);
      }
      await store.remove(handle);
      await rm(path.join(incomingRoot, handle), { recursive: true, force: true });
      await leases.forget(handle);
      res.writeHead(204).end();
    },

    async list(req: IncomingMessage, res: ServerResponse): Promise<void> {
      authorize(req, 'list', '*');
      const artifacts = (await store.list()).map((artifact) => ({
        handle: artifact.handle,
        team: artifact.teamName,
        type: artifact.type,
        owner: artifact.owner,
        createdAt: artifact.createdAt.toISOString(),
      }));
      sendJson(res, 200, { artifacts });
    },
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://daemon');
    const method = req.method ?? 'GET';
    if (url.pathname === '/healthz' && method === 'GET') {
      const state = await health();
      sendJson(res, state.ready ? 200 : 503, { node: nodeName, ...state });
      return;
    }
    if (url.pathname === '/artifacts' && method === 'GET') return handlers.list(req, res);
    const match = ARTIFACT_ROUTE.exec(url.pathname);
    if (!match) throw new HttpError(404, 'not_found', `no route ${method} ${url.pathname}`);
    const handle = decodeURIComponent(match[1] ?? '');
    if (!isValidHandle(handle))
      throw new HttpError(400, 'invalid_handle', `invalid artifact handle '${handle}'`);
    const action = match[2];
    if (action === '/stat' && method === 'GET') return handlers.stat(req, res, handle, false);
    if (action === '/commit' && method === 'POST') return handlers.commit(req, res, url, handle);
    if (action === '/extract' && method === 'POST') return handlers.extract(req, res, url, handle);
    if (action === '/lease' && method === 'POST') return handlers.renew(req, res, handle);
    if (action === '/pull' && method === 'POST') return handlers.pull(req, res, handle);
    if (action === undefined) {
      if (method === 'GET') return handlers.getTar(req, res, url, handle);
      if (method === 'HEAD') return handlers.stat(req, res, handle, true);
      if (method === 'PUT') return handlers.put(req, res, handle);
      if (method === 'DELETE') return handlers.remove(req, res, handle);
    }
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      const answer = asHttpError(error, nodeName);
      if (answer.status >= 500 && answer.status !== 507) {
        logger.warn(
          { method: req.method, path: req.url?.split('?')[0], err: answer.message },
          'artifact daemon request failed',
        );
      }
      if (res.headersSent) {
        res.destroy(); // mid-stream: the reader sees no checksum trailer, so never a "complete" short artifact
        return;
      }
      res.setHeader('connection', 'close'); // an unread upload body must not be parsed as the next request
      sendJson(res, answer.status, { error: answer.code, message: answer.message });
    });
  };

  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.ca ? { ca: options.tls.ca } : {}),
          requestCert: options.tls.requireClientCert === true,
          rejectUnauthorized: options.tls.requireClientCert === true,
        },
        handle,
      )
    : createHttpServer(handle);
  server.requestTimeout = 0; // artifacts may take long; idle sockets are covered by the keep-alive timeout
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7780, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `${options.tls ? 'https' : 'http'}://${hostForUrl}:${address.port}`;

  const sweep = async (now = Date.now()): Promise<SweepResult> => {
    const expired: string[] = [];
    for (const artifact of await store.list()) {
      if (busy.has(artifact.handle)) continue;
      const lastUsed = Math.max(artifact.createdAt.getTime(), (await leases.lastUsed(artifact.handle)) ?? 0);
      if (now - lastUsed < ttlMs) continue;
      await store.remove(artifact.handle);
      await leases.forget(artifact.handle);
      expired.push(artifact.handle);
    }
    for (const name of await readdir(incomingRoot).catch(() => [])) {
      const absolute = path.join(incomingRoot, name);
      const stats = await stat(absolute).catch(() => undefined);
      if (!stats || busy.has(name) || now - stats.mtimeMs < ttlMs) continue;
      await rm(absolute, { recursive: true, force: true });
      expired.push(`incoming/${name}`);
    }
    for (const handle of await leases.handles()) {
      if (!busy.has(handle) && !(await store.lookup(handle))) await leases.forget(handle);
    }
    const strays = await store.sweepStrays({ olderThanMs: 15 * 60_000 });
    if (expired.length > 0 || strays.length > 0) logger.info({ expired, strays }, 'artifact sweep');
    return { expired, strays };
  };

  const interval = options.sweepIntervalMs ?? 5 * 60_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          sweep().catch((error: unknown) => logger.warn({ err: String(error) }, 'artifact sweep failed'));
        }, interval)
      : undefined;
  timer?.unref();

  return {
    url,
    port: address.port,
    store,
    sweep,
    close: async () => {
      if (timer) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function asHttpError(error: unknown, nodeName: string): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof CapabilityError) {
    return new HttpError(
      error.httpStatus,
      error.httpStatus === 401 ? 'unauthorized' : 'forbidden',
      error.message,
    );
  }
  if (isDiskFull(error)) {
    return new HttpError(507, 'disk_full', `the artifact disk of node ${nodeName} is full`);
  }
  if (error instanceof ArtifactStoreError) return new HttpError(error.httpStatus, error.code, error.message);
  return new HttpError(500, 'internal', error instanceof Error ? error.message : String(error));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'too_large', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
}
