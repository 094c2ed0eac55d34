import type { FastifyInstance } from 'fastify';

/** How often connections that became idle during shutdown are closed. */
const IDLE_SWEEP_MS = 250;

/**
 * Close the HTTP server the way Go's `http.Server.Shutdown` does (Concourse's web node): requests under way
 * finish, and each keep-alive connection is closed as soon as it is idle. Node's `server.close()` closes only
 * the connections idle at that moment; one whose request was still running stayed open until its keep-alive
 * timeout (72 s in fastify), holding the whole shutdown. Connections still busy after `graceMs` are cut.
 */
export async function closeHttpServer(app: FastifyInstance, graceMs = 30_000): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
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
