import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How often connections that became idle during shutdown are closed. */
const IDLE_SWEEP_MS = 250;

/**
 * A connection that has not sent a byte for this long is closed on shutdown as an idle one (Go's Shutdown
 * waits 5 s; ours is shorter, the listener being closed by then and such a client free to retry).
 */
const UNUSED_CONNECTION_GRACE_MS = 1_000;

/** When each open connection of a tracked server was accepted. */
const acceptedAt = new WeakMap<Server, Map<Socket, number>>();

/**
 * Remember `app`'s connections from now on (call before `listen`), so that {@link closeHttpServer} can close
 * the ones that never sent a request. Node counts such a connection as busy, not idle, and waits for it; yet
 * fetch (undici) opens one right after a request it aborted — the API fuzz's event streams — and leaves it
 * unused: a close just after held on to it until the 30 s cut (and before that, for about a minute).
 */
export function trackHttpConnections(app: FastifyInstance): void {
  const connections = new Map<Socket, number>();
  acceptedAt.set(app.server, connections);
  app.server.on('connection', (socket: Socket) => {
    connections.set(socket, Date.now());
    socket.once('close', () => connections.delete(socket));
  });
}

/** Close the tracked connections of `server` that have sent nothing since they were accepted a while ago. */
function closeUnusedConnections(server: Server): void {
  const now = Date.now();
  for (const [socket, at] of acceptedAt.get(server) ?? []) {
    if (socket.bytesRead === 0 && now - at >= UNUSED_CONNECTION_GRACE_MS) socket.destroy();
  }
}

/**
 * Close the HTTP server the way Go's `http.Server.Shutdown` does (Concourse's web node): requests under way
 * finish, and each keep-alive connection is closed as soon as it is idle. Node's `server.close()` closes only
 * the connections idle at that moment; one whose request was still running stayed open until its keep-alive
 * timeout (72 s in fastify), holding the whole shutdown. Connections still busy after `graceMs` are cut.
 */
export async function closeHttpServer(app: FastifyInstance, graceMs = 30_000): Promise<void> {
  const sweep = setInterval(() => {
    app.server.closeIdleConnections();
    closeUnusedConnections(app.server);
  }, IDLE_SWEEP_MS);
  const deadline = setTimeout(() => app.server.closeAllConnections(), graceMs);
  sweep.unref();
  deadline.unref();
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}
