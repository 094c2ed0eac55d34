// The web UI (apps/web/ui, a single-page app built by Vite) served by the web node itself, so one process
// serves API and UI as Concourse's ATC does. Files are read once at start and kept in memory (the build is
// a few hundred kilobytes), compressed on first request.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';

/** `apps/web/ui/dist`, from both `apps/web/src/ui` (tests) and `apps/web/dist/ui` (the built server). */
export const DEFAULT_UI_DIST_DIR = fileURLToPath(new URL('../../ui/dist/', import.meta.url));

const PUBLIC = { access: { kind: 'public' } } as const;

/** Vite names every file under assets/ by its content hash: safe to cache for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current assets: always revalidate it. */
const REVALIDATE = 'no-cache';

/** The page runs only our own scripts and talks only to this server. */
const INDEX_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);

interface UiFile {
  body: Buffer;
  gzipped?: Buffer;
  contentType: string;
  etag: string;
  compressible: boolean;
}

export const UI_NOT_BUILT_MESSAGE =
  'The JetBridge web UI is not built. Run `npx -y pnpm@10 build` (or `npx -y pnpm@10 --filter @jetbridge/ui build`) and restart; the API and fly work without it.\n';

async function loadFiles(
  root: string,
  dir = root,
  files = new Map<string, UiFile>(),
): Promise<Map<string, UiFile>> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await loadFiles(root, full, files);
      continue;
    }
    if (!entry.isFile()) continue;
    const body = await readFile(full);
    const ext = path.extname(entry.name).toLowerCase();
    files.set(`/${path.relative(root, full).split(path.sep).join('/')}`, {
      body,
      contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      compressible: COMPRESSIBLE.has(ext) && body.length > 1024,
    });
  }
  return files;
}

function acceptsGzip(request: FastifyRequest): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && /\bgzip\b/.test(header);
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: UiFile, cacheControl: string) {
  reply.header('cache-control', cacheControl).header('etag', file.etag).type(file.contentType);
  if (file.compressible) reply.header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  if (file.compressible && acceptsGzip(request)) {
    file.gzipped ??= gzipSync(file.body, { level: 9 });
    return reply.header('content-encoding', 'gzip').send(file.gzipped);
  }
  return reply.send(file.body);
}

/** The path part of a request URL, percent-decoded; undefined when it cannot be decoded. */
function requestPath(url: string): string | undefined {
  const pathname = url.split('?')[0]?.split('#')[0] ?? '/';
  try {
    return decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
}

/**
 * Serves the built UI: `/assets/*` (hashed, cached for a year), the other files of the build at their paths,
 * and `index.html` for any other GET that is not an API path, so the app's own routes (`/builds/42`,
 * `/teams/main/pipelines/p`…) load the app (SPA fallback). Unknown `/api/` paths keep the app's 404. Routes
 * registered earlier (login pages, `/fly_success`, the API) win: they are more specific than `/*`.
 *
 * Without a build the server still starts, and answers pages with a note saying how to build the UI.
 */
export function uiRoutes(options: { distDir?: string } = {}) {
  const distDir = options.distDir ?? DEFAULT_UI_DIST_DIR;
  return async function registerUiRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
    const built = existsSync(path.join(distDir, 'index.html'));
    const files = built ? await loadFiles(distDir) : new Map<string, UiFile>();
    const index = files.get('/index.html');
    if (!index) ctx.logger.warn({ distDir }, 'web UI not built: pages answer with build instructions');

    const servePage = (request: FastifyRequest, reply: FastifyReply) => {
      const pathname = requestPath(request.url);
      if (pathname === undefined) return reply.code(400).type('text/plain').send('');
      if (pathname === '/api' || pathname.startsWith('/api/')) return reply.callNotFound();
      const file = files.get(pathname);
      if (file && pathname !== '/index.html') {
        return sendFile(request, reply, file, pathname.startsWith('/assets/') ? IMMUTABLE : REVALIDATE);
      }
      if (pathname.startsWith('/assets/')) return reply.callNotFound();
      if (!index) {
        return reply
          .code(pathname === '/' ? 200 : 404)
          .header('cache-control', 'no-store')
          .type('text/plain; charset=utf-8')
          .send(UI_NOT_BUILT_MESSAGE);
      }
      reply.headers(INDEX_HEADERS);
      return sendFile(request, reply, index, REVALIDATE);
    };

    app.get('/', { config: PUBLIC }, servePage);
    app.get('/*', { config: PUBLIC }, servePage);
  };
}
