import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { AppContext } from '../app-context.js';
import { UI_NOT_BUILT_MESSAGE, uiRoutes } from './serve-ui.js';

// The plugin alone on a bare Fastify, over real files: a built UI and a missing one.
const ctx = { logger: pino({ level: 'silent' }) } as unknown as AppContext;
let scratch: string;

/** The plugin on a listening Fastify (real HTTP), and a fetch bound to it. */
async function appServing(
  distDir: string,
): Promise<{ app: FastifyInstance; get: (url: string, init?: RequestInit) => Promise<Response> }> {
  const app = Fastify();
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/plain').send(''));
  await uiRoutes({ distDir })(app, ctx);
  app.get('/api/v1/info', { config: { access: { kind: 'open' } } }, async () => ({ version: 'x' }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, get: (path, init) => fetch(`${url}${path}`, init) };
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-ui-dist-'));
  await mkdir(path.join(scratch, 'built', 'assets'), { recursive: true });
  await writeFile(
    path.join(scratch, 'built', 'index.html'),
    '<!doctype html><script type="module" src="/assets/app-abc123.js"></script>',
  );
  await writeFile(
    path.join(scratch, 'built', 'assets', 'app-abc123.js'),
    `console.log(${JSON.stringify('x'.repeat(5000))});`,
  );
  await writeFile(path.join(scratch, 'built', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('uiRoutes', () => {
  it('serves hashed assets for a year, gzipped when asked, and index.html for app paths', async () => {
    const { app, get } = await appServing(path.join(scratch, 'built'));
    const asset = await get('/assets/app-abc123.js', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('gzip');
    expect(await asset.text()).toContain('console.log');

    for (const url of ['/', '/builds/7', '/teams/main/pipelines/p/jobs/j?vars.a=1']) {
      const page = await get(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('/assets/app-abc123.js');
    }
    const etag = (await get('/')).headers.get('etag') ?? '';
    expect((await get('/builds/7', { headers: { 'if-none-match': etag } })).status).toBe(304);

    const icon = await get('/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
    await app.close();
  });

  it('keeps 404 for unknown API paths and missing assets, and lets real routes win', async () => {
    const { app, get } = await appServing(path.join(scratch, 'built'));
    expect((await get('/api/v1/nope')).status).toBe(404);
    expect((await get('/api')).status).toBe(404);
    expect((await get('/assets/gone-123.js')).status).toBe(404);
    expect(await (await get('/api/v1/info')).json()).toEqual({ version: 'x' });
    expect((await get('/%E0%A4%A')).status).toBe(400);
    expect((await get('/builds/1', { method: 'POST' })).status).toBe(404);
    await app.close();
  });

  it('starts without a build and says how to make one', async () => {
    const { app, get } = await appServing(path.join(scratch, 'missing'));
    const home = await get('/');
    expect(home.status).toBe(200);
    expect(await home.text()).toBe(UI_NOT_BUILT_MESSAGE);
    expect((await get('/builds/3')).status).toBe(404);
    await app.close();
  });
});
