import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startEmbeddedPostgres } from '@jetbridge/db';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { bearer, request } from './http-client.js';

describe('operations: request ids, logs, metrics, health', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await loginToken(server.url, ADMIN);
  });
  afterAll(async () => {
    await server.destroy();
  });

  it('gives every request an id, echoes it, and stamps it on every log line of that request', async () => {
    const res = await request(`${server.url}/api/v1/teams`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const lines = server.logs.filter((line) => line['request_id'] === id);
    expect(lines.map((l) => l['msg'])).toEqual(
      expect.arrayContaining(['incoming request', 'request completed']),
    );
    for (const line of lines) expect(typeof line['time']).toBe('string');
  });

  it('honours an incoming X-Request-Id so a proxy can correlate', async () => {
    const res = await request(`${server.url}/api/v1/info`, {
      headers: { 'x-request-id': 'from-the-proxy-1' },
    });
    expect(res.headers.get('x-request-id')).toBe('from-the-proxy-1');
  });

  it('never logs credentials: the Authorization header and cookies are redacted', async () => {
    await request(`${server.url}/api/v1/user`, {
      headers: { ...bearer(token), cookie: 'skymarshal_auth=secretcookie' },
    });
    await new Promise((r) => setTimeout(r, 50));
    const text = JSON.stringify(server.logs);
    expect(text).not.toContain(token);
    expect(text).not.toContain('secretcookie');
    expect(text).not.toContain(ADMIN.password);
  });

  it('serves Prometheus metrics with process metrics and request durations by route and status', async () => {
    await request(`${server.url}/api/v1/info`);
    await request(`${server.url}/api/v1/teams/nope/pipelines/x/jobs`, { headers: bearer(token) });
    const res = await request(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toContain('process_cpu_seconds_total');
    expect(res.text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/info",status_code="200"\} \d+/,
    );
    // Routes are labelled by pattern, not raw URL, so label cardinality stays bounded.
    expect(res.text).not.toContain('/api/v1/teams/nope');
    expect(res.text).toContain('jetbridge_db_connections');
  });

  it('reports health: 200 with the database answering', async () => {
    const res = await request(`${server.url}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(res.json<{ status: string; database: { status: string } }>()).toMatchObject({
      status: 'ok',
      database: { status: 'ok' },
    });
  });

  it('sends Concourse headers on API responses, and bare application/json', async () => {
    const res = await request(`${server.url}/api/v1/info`);
    expect(res.headers.get('x-concourse-version')).toBe('8.2.5');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('reports health 503 when the database is gone, and recovers when it is back', async () => {
    // Stop the test PostgreSQL under the running server.
    const { readFile } = await import('node:fs/promises');
    const pidFile = `${server.postgres.dataDir}/postgres/postmaster.pid`;
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
    const down = await request(`${server.url}/api/v1/health`);
    expect(down.status).toBe(503);
    expect(down.json<{ status: string }>().status).toBe('failing');

    // Same directory, same port: the server's pool reconnects by itself.
    const { port, user, database } = server.postgres.connection;
    const back = await startEmbeddedPostgres({ dataDir: server.postgres.dataDir, port, user, database });
    try {
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await request(`${server.url}/api/v1/health`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      const teams = await request(`${server.url}/api/v1/teams`, { headers: bearer(token) });
      expect(teams.status).toBe(200);
    } finally {
      await server.stop();
      await back.stop();
    }
  });
});
