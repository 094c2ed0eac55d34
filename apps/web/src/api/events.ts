// `GET /api/v1/builds/:build_id/events`: a build's events as Server-Sent Events (concourse-api.md §3,
// Concourse's atc/api/buildserver/eventhandler.go). Resumable with `Last-Event-ID`; ends with an `end` frame
// once the build has finished and every event was sent, then stays open until the client hangs up.
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { useBuildTracker } from '../builds/build-tracker-plugin.js';
import { BuildEventStream } from '../builds/build-event-stream.js';
import { HttpError } from '../http-error.js';

const MAX_UINT64 = 2n ** 64n - 1n;

/**
 * The first event id to send for a `Last-Event-ID` header: its value + 1, or 0 without one. Like Go's
 * `strconv.ParseUint(v, 10, 64)`, only plain decimal digits up to 2^64-1 are accepted; anything else → 400.
 */
export function firstEventIdAfter(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value) || BigInt(value) > MAX_UINT64) throw HttpError.badRequest();
  // Ids beyond what a build can have all mean "nothing more": clamp instead of losing precision.
  return Math.min(Number(value), Number.MAX_SAFE_INTEGER - 1) + 1;
}

export async function eventRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tracker = await useBuildTracker(app, ctx);
  const openStreams = new Set<Socket>();

  // On shutdown, cut open streams off (not a clean end): fly's event source then retries with
  // Last-Event-ID until the node is back, where a clean EOF would end `fly execute` as if the build were over.
  app.addHook('preClose', async () => {
    for (const socket of openStreams) socket.destroy();
    openStreams.clear();
  });

  app.get<{ Params: { build_id: string } }>(
    '/api/v1/builds/:build_id/events',
    // No HEAD twin: a body that never ends has no place in a HEAD answer.
    { config: { access: { kind: 'build-read' } }, exposeHeadRoute: false },
    async (request, reply) => {
      const buildId = request.authorizedBuild?.id ?? Number(request.params.build_id);
      const fromId = firstEventIdAfter(request.headers['last-event-id']);

      const stream = new BuildEventStream(tracker.events, buildId, fromId);
      const socket = request.raw.socket;
      openStreams.add(socket);
      // The stream only closes when the client is gone (it never ends by itself): then make sure the
      // connection goes too, or a half-closed socket would keep the server from shutting down.
      stream.on('close', () => {
        openStreams.delete(socket);
        socket.destroy();
      });

      reply
        .code(200)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-store, must-revalidate')
        .header('x-accel-buffering', 'no')
        .header('x-atc-stream-version', '2.0');
      request.log.debug({ buildId, fromId }, 'streaming build events');
      return reply.send(stream);
    },
  );
}
