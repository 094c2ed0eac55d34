import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseWebConfig } from '../src/config/index.js';
import { startTestServer, type TestServer } from './harness.js';

/**
 * `--prometheus-bind-ip/--prometheus-bind-port` (Concourse's flags): /metrics moves to a listener of its own,
 * so a main port behind a public ingress no longer shows build, team and pipeline names to anyone.
 */
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    env: { CONCOURSE_PROMETHEUS_BIND_IP: '127.0.0.1', CONCOURSE_PROMETHEUS_BIND_PORT: '0' },
  });
}, 120_000);

afterAll(async () => {
  await ts?.destroy();
});

describe('metrics on their own port', () => {
  it('are served there, and the main port no longer has /metrics', async () => {
    const metricsUrl = ts.server.metricsUrl as string;
    expect(new URL(metricsUrl).port).not.toBe(new URL(ts.url).port);
    const scraped = await fetch(metricsUrl);
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toContain('# TYPE concourse_builds_started_total counter');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    // The main port has no metrics route (a built UI answers the path with its page, an unbuilt one with 404).
    expect(await (await fetch(`${ts.url}/metrics`)).text()).not.toContain('concourse_builds_started_total');
    expect((await fetch(`${ts.url}/api/v1/info`)).status).toBe(200);
    expect(ts.logs.some((line) => line.msg === 'Prometheus metrics are served on their own port')).toBe(true);
  });

  it('a port without an IP (or the reverse) stops the start, naming the missing flag', () => {
    expect(() => parseWebConfig(['--prometheus-bind-port', '9391'], {}, '/')).toThrow(/--prometheus-bind-ip/);
    expect(() => parseWebConfig([], { CONCOURSE_PROMETHEUS_BIND_IP: '0.0.0.0' }, '/')).toThrow(
      /prometheus-bind-port/,
    );
    expect(() =>
      parseWebConfig(['--prometheus-bind-ip', '0.0.0.0', '--prometheus-bind-port', 'x'], {}, '/'),
    ).toThrow(/not a port number/);
    expect(
      parseWebConfig(['--prometheus-bind-ip', '0.0.0.0', '--prometheus-bind-port', '9391'], {}, '/')
        .prometheus,
    ).toEqual({
      ip: '0.0.0.0',
      port: 9391,
    });
  });
});
