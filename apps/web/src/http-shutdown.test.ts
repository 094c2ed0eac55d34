import net from 'node:net';
import { describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { closeHttpServer, trackHttpConnections } from './http-shutdown.js';

/** A request under way when the server closes is answered, and the close does not wait for more. */
async function serverWithSlowRoute(): Promise<{ app: FastifyInstance; url: string; entered: Promise<void> }> {
  const app = Fastify({ keepAliveTimeout: 3_000 });
  let signalEntered!: () => void;
  const entered = new Promise<void>((resolve) => (signalEntered = resolve));
  app.get('/slow', async () => {
    signalEntered();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { ok: true };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, entered };
}

async function closeDuringRequest(close: (app: FastifyInstance) => Promise<void>) {
  const { app, url, entered } = await serverWithSlowRoute();
  const answer = fetch(`${url}/slow`).then(async (res) => ({ status: res.status, body: await res.json() }));
  await entered;
  const began = Date.now();
  await close(app);
  return { closeMs: Date.now() - began, answer: await answer };
}

describe('closeHttpServer', () => {
  it('answers the request under way, then closes', async () => {
    const { closeMs, answer } = await closeDuringRequest(closeHttpServer);
    expect(answer).toEqual({ status: 200, body: { ok: true } });
    expect(closeMs).toBeLessThan(2_000);
  });

  it('cuts a connection still busy after the grace', async () => {
    const app = Fastify();
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    app.get('/never', async () => {
      entered();
      await new Promise(() => undefined);
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const answer = fetch(`${url}/never`).then(
      (res) => res.status,
      () => 'cut',
    );
    await inHandler;
    const began = Date.now();
    await closeHttpServer(app, 500);
    expect(Date.now() - began).toBeLessThan(3_000);
    expect(await answer).toBe('cut');
  });

  it('closes a connection that never sent a request (fetch leaves one after an abort), not waiting for the cut', async () => {
    const app = Fastify();
    app.get('/ok', async () => ({ ok: true }));
    trackHttpConnections(app);
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const unused = net.connect(Number(url.port), '127.0.0.1');
    const closedByServer = new Promise<void>((resolve) => unused.once('close', () => resolve()));
    unused.on('error', () => undefined);
    await new Promise((resolve) => unused.once('connect', resolve));
    const began = Date.now();
    await closeHttpServer(app);
    await closedByServer;
    expect(Date.now() - began).toBeLessThan(5_000);
  });
});
