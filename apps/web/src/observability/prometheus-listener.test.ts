import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { startPrometheusListener, type PrometheusListener } from './prometheus-listener.js';

/** The metrics listener over real HTTP: the registry's text at /metrics, nothing anywhere else. */
let listener: PrometheusListener;
const registry = new Registry();

beforeAll(async () => {
  new Counter({ name: 'probe_total', help: 'a probe', registers: [registry] }).inc(3);
  listener = await startPrometheusListener(registry, { ip: '127.0.0.1', port: 0 }, () => undefined);
});

afterAll(async () => {
  await listener?.close();
});

describe('startPrometheusListener', () => {
  it('serves the registry at GET /metrics in the exposition format', async () => {
    const response = await fetch(`${listener.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(await response.text()).toContain('probe_total 3');
  });

  it('answers 404 to every other path and method (no API on this port)', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/v1/info'],
      ['POST', '/metrics'],
      ['GET', '/metrics/../api/v1/teams'],
    ] as const) {
      expect((await fetch(`${listener.url}${path}`, { method })).status).toBe(404);
    }
  });

  it('refuses to start on a port in use, saying so', async () => {
    const port = Number(new URL(listener.url).port);
    await expect(
      startPrometheusListener(registry, { ip: '127.0.0.1', port }, () => undefined),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
