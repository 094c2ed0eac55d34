// Artifacts (concourse-api.md §1.8, §2.14; Concourse's atc/api/artifactserver): `fly execute -i` uploads a
// directory as a gzip'd tar into a new volume; `fly execute -o` downloads a build's output the same way.
// Both directions stream: nothing is buffered whole, and an upload is limited by its uncompressed size.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ArtifactStoreError } from '@jetbridge/artifact-store';
import { createUploadedArtifact, findArtifact, type ArtifactRecord } from '@jetbridge/db';
import { FileNotFoundError, RuntimeError, type Volume } from '@jetbridge/runtime';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { adaptiveGzip } from '../artifacts/adaptive-gzip.js';
import { CoalesceChunks } from '../artifacts/coalesce-chunks.js';
import { HttpError } from '../http-error.js';

/** `atc.WorkerArtifact`: `{id, name, build_id, created_at}`, all always present. */
export function presentWorkerArtifact(artifact: ArtifactRecord): Record<string, unknown> {
  return {
    id: artifact.id,
    name: artifact.name,
    build_id: artifact.buildId ?? 0,
    created_at: Math.floor(artifact.createdAt.getTime() / 1000),
  };
}

/** Why an upload was refused, with the answer it gets. */
class UploadRejected extends HttpError {}

/** Passes bytes through until more than `limit` went by, then fails with 413. */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(new UploadRejected(413, `artifact larger than ${this.limit} bytes uncompressed`));
      return;
    }
    callback(null, chunk);
  }
}

/** System errors while writing the volume are ours (500); anything else about the tar is the client's (400). */
function isHostFailure(err: unknown): boolean {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    ['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'EROFS', 'EACCES', 'EPERM'].includes(code)
  );
}

/** How much of a refused upload is read and thrown away so the client hears the answer; then it is cut off. */
const REFUSED_UPLOAD_DRAIN_BYTES = 64 * 1024 * 1024;
const REFUSED_UPLOAD_DRAIN_MS = 10_000;

/**
 * A refused upload whose client is still sending: read and drop the rest (up to a limit), so the client
 * finishes sending and reads the answer. Neither leaving it unread (the client waits forever) nor closing
 * the connection at once (unread data makes the kernel reset it, and the client gets a broken pipe instead
 * of the answer) lets it see why. Beyond the limit the connection is cut.
 */
function discardRestOfUpload(body: Readable): void {
  let drained = 0;
  // A client that stops sending without closing would otherwise hold the connection (and shutdown) forever.
  const cutOff = setTimeout(() => body.destroy(), REFUSED_UPLOAD_DRAIN_MS);
  cutOff.unref();
  body.once('close', () => clearTimeout(cutOff));
  body.unpipe();
  body.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > REFUSED_UPLOAD_DRAIN_BYTES) body.destroy();
  });
  body.resume();
}

/** Out of space or quota where volumes live: the operator's to fix, and the client is told so (507). */
function isDiskFull(err: unknown): boolean {
  // Not `instanceof Error`: system errors may come from another realm. A few causes deep at most.
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    e = cause;
  }
  return false;
}

/**
 * Extract a gzip'd tar request body into `volume`. Rejects with an HttpError the client deserves: 413 over
 * the size limit, 400 for a malformed or truncated gzip or tar and for entries that would land outside
 * the volume, 500 when the host fails.
 */
async function streamUploadInto(volume: Volume, body: Readable, maxBytes: number): Promise<void> {
  let rejection: HttpError | undefined;
  // Large chunks in and out of zlib: far fewer thread-pool hand-offs, callbacks and buffers.
  const coalesce = new CoalesceChunks();
  const gunzip = zlib.createGunzip({ chunkSize: 1024 * 1024 });
  const limit = new ByteLimit(maxBytes);
  const stop = (err: HttpError) => {
    rejection ??= err;
    limit.destroy(err);
  };
  body.on('error', (err) => stop(new HttpError(400, `upload interrupted: ${err.message}`, '')));
  body.on('aborted', () => stop(new HttpError(400, 'upload interrupted', '')));
  gunzip.on('error', (err) => stop(new UploadRejected(400, `malformed gzip: ${err.message}`)));
  limit.on('error', (err) => {
    if (err instanceof HttpError) rejection ??= err;
  });
  body.pipe(coalesce).pipe(gunzip).pipe(limit);

  try {
    await volume.streamIn('.', limit);
    // The tar ended; the gzip must have too, cleanly (a truncated gzip errors at its end).
    await finished(gunzip);
  } catch (err) {
    if (rejection) throw rejection;
    // The local runtime reports unsafe or corrupt archives as artifact-store errors carrying their status.
    if (err instanceof ArtifactStoreError && err.httpStatus < 500)
      throw new UploadRejected(err.httpStatus, err.message);
    if (err instanceof RuntimeError && !isHostFailure(err)) throw new UploadRejected(400, err.message);
    throw err;
  }
  if (rejection) throw rejection;
}

export async function artifactRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // Encapsulated so the raw-stream body parser applies to these routes only.
  await app.register(async (scope) => {
    // The upload body reaches the handler as the request stream itself: nothing is buffered, and the
    // size limit is applied to the uncompressed tar below instead of the app's JSON body limit.
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

    scope.post<{ Params: { team_name: string } }>(
      '/api/v1/teams/:team_name/artifacts',
      { config: { access: { kind: 'team', role: 'member' } } },
      async (request, reply) => {
        const teamName = request.params.team_name;
        const body = request.body;
        if (!isReadable(body)) throw new HttpError(400, 'expected an application/octet-stream body', '');

        const volume = await ctx.worker.createVolume({
          owner: { kind: 'upload', teamName },
          teamName,
          type: 'artifact',
        });
        let artifact: ArtifactRecord | undefined;
        try {
          await streamUploadInto(volume, body, ctx.config.maxArtifactUploadBytes);
          artifact = await createUploadedArtifact(ctx.db, { teamName, volumeHandle: volume.handle });
          if (artifact === undefined) throw HttpError.notFound();
        } catch (err) {
          // Nothing of a refused upload stays behind.
          await volume
            .destroy()
            .catch((destroyErr: unknown) =>
              request.log.warn(
                { err: destroyErr, volume: volume.handle },
                'failed to remove the volume of a refused upload',
              ),
            );
          if (!body.readableEnded) discardRestOfUpload(body);
          if (isDiskFull(err)) {
            request.log.error({ err, team: teamName, volume: volume.handle }, 'artifact store is full');
            throw new HttpError(507, 'the artifact store is full (no space left on device)');
          }
          if (err instanceof HttpError) {
            request.log.info({ err: err.message, team: teamName }, 'artifact upload refused');
          }
          throw err;
        }
        request.log.info(
          { artifactId: artifact.id, volume: volume.handle, team: teamName },
          'artifact uploaded',
        );
        reply.code(201);
        return presentWorkerArtifact(artifact);
      },
    );

    scope.get<{ Params: { team_name: string; artifact_id: string } }>(
      '/api/v1/teams/:team_name/artifacts/:artifact_id',
      { config: { access: { kind: 'team', role: 'member' } } },
      async (request, reply) => {
        const id = /^\d{1,9}$/.test(request.params.artifact_id)
          ? Number(request.params.artifact_id)
          : undefined;
        if (id === undefined) throw new HttpError(400, 'bad artifact id', '');
        const artifact = await findArtifact(ctx.db, id);
        // An artifact is visible to its own team only.
        if (artifact === undefined || artifact.teamName !== request.params.team_name)
          throw HttpError.notFound();
        const volume = await ctx.worker.lookupVolume(artifact.volumeHandle);
        if (volume === undefined) throw HttpError.notFound();
        let tar: Readable;
        try {
          tar = await volume.streamOut('.');
        } catch (err) {
          if (err instanceof FileNotFoundError) throw HttpError.notFound();
          throw err;
        }
        reply.code(200).type('application/octet-stream');
        // Stored where it does not compress (binaries, archives), which deflate would only slow down.
        return reply.send(adaptiveGzip(tar));
      },
    );
  });
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}
