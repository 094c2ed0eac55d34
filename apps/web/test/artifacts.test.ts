// Artifact uploads and downloads (`fly execute -i/-o`) over real HTTP: streamed, size-limited, and refused
// cleanly — a refused upload leaves neither an `artifacts` row nor a volume behind.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import tarStream from 'tar-stream';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { authHeaders, extractTarGz, tarGzOf, uploadArtifact } from './execute-client.js';

let server: TestServer;
let token: string;
let scratch: string;
const MAX_UPLOAD = 256 * 1024;

beforeAll(async () => {
  server = await startTestServer({ env: { JETBRIDGE_MAX_ARTIFACT_UPLOAD_SIZE: '256KB' } });
  token = await loginToken(server.url, ADMIN);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-artifacts-'));
});

afterAll(async () => {
  await server?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A tar built entry by entry (names are taken as given, `../` included), gzip'd. */
async function craftedTarGz(
  entries: Array<{
    name: string;
    content?: string;
    type?: 'file' | 'directory' | 'symlink';
    linkname?: string;
  }>,
): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    if (type === 'file') pack.entry({ name: entry.name, type, mode: 0o644 }, entry.content ?? '');
    else pack.entry({ name: entry.name, type, mode: 0o755, linkname: entry.linkname });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack.pipe(zlib.createGzip())) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sent in small chunks with pauses, so the server sees a chunked, streaming body. */
function slowly(buffer: Buffer, chunkSize = 16 * 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < buffer.length; offset += chunkSize) {
        yield buffer.subarray(offset, offset + chunkSize);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })(),
  );
}

async function artifactRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from artifacts`.execute(
    server.server.ctx.db,
  );
  return rows[0]?.n ?? 0;
}

async function uploadVolumes(): Promise<number> {
  return (await server.server.ctx.worker.listVolumes()).filter((v) => v.owner.kind === 'upload').length;
}

async function expectRefused(body: Readable, status: number): Promise<void> {
  const rowsBefore = await artifactRows();
  const volumesBefore = await uploadVolumes();
  const res = await uploadArtifact(server.url, token, 'main', body);
  expect(res.status).toBe(status);
  await res.text();
  expect(await artifactRows()).toBe(rowsBefore);
  expect(await uploadVolumes()).toBe(volumesBefore);
}

describe('artifact upload', () => {
  it('stores a streamed tar.gz and gives it back as a tar.gz', async () => {
    const dir = path.join(scratch, 'roundtrip');
    await mkdir(path.join(dir, 'a', 'b'), { recursive: true });
    await writeFile(path.join(dir, 'a', 'b', 'c.txt'), 'deep\n');
    await writeFile(path.join(dir, 'top.txt'), 'top\n');
    const res = await uploadArtifact(server.url, token, 'main', tarGzOf(dir));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    const artifact = (await res.json()) as { id: number; name: string; build_id: number; created_at: number };
    expect(artifact.name).toBe('');
    expect(artifact.build_id).toBe(0);
    expect(Math.abs(artifact.created_at - Date.now() / 1000)).toBeLessThan(60);

    const download = await fetch(`${server.url}/api/v1/teams/main/artifacts/${artifact.id}`, {
      headers: authHeaders(token),
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    const out = path.join(scratch, 'roundtrip-out');
    await mkdir(out);
    await extractTarGz(download, out);
    expect(await readFile(path.join(out, 'a', 'b', 'c.txt'), 'utf8')).toBe('deep\n');
    expect(await readFile(path.join(out, 'top.txt'), 'utf8')).toBe('top\n');
  });

  it('accepts files without their parent directory entries (a git work tree upload)', async () => {
    const body = await craftedTarGz([
      { name: 'src/main.go', content: 'package main\n' },
      { name: 'README', content: 'hi\n' },
    ]);
    const res = await uploadArtifact(server.url, token, 'main', slowly(body));
    expect(res.status).toBe(201);
    await res.json();
  });

  it('refuses entries that leave the artifact (400), keeping nothing', async () => {
    await expectRefused(
      slowly(
        await craftedTarGz([
          { name: 'ok.txt', content: 'fine' },
          { name: '../escaped.txt', content: 'evil' },
        ]),
      ),
      400,
    );
    await expectRefused(slowly(await craftedTarGz([{ name: '/etc/evil', content: 'evil' }])), 400);
    await expectRefused(
      slowly(
        await craftedTarGz([
          { name: 'link', type: 'symlink', linkname: '../../..' },
          { name: 'link/evil.txt', content: 'evil' },
        ]),
      ),
      400,
    );
  });

  it('refuses an upload over the size limit with 413, keeping nothing', async () => {
    const big = await craftedTarGz([{ name: 'big.bin', content: 'x'.repeat(MAX_UPLOAD * 4) }]);
    // Compresses well: the limit is on the uncompressed size (what lands on disk).
    expect(big.length).toBeLessThan(MAX_UPLOAD);
    await expectRefused(slowly(big), 413);
    // Incompressible and well over the limit: answered while the client is still sending.
    const { randomBytes } = await import('node:crypto');
    const huge = await craftedTarGz([
      { name: 'random.bin', content: randomBytes(MAX_UPLOAD * 8).toString('latin1') },
    ]);
    await expectRefused(slowly(huge), 413);
  });

  it('refuses a truncated or malformed gzip with 400, keeping nothing', async () => {
    const whole = await craftedTarGz([
      { name: 'file.txt', content: 'y'.repeat(50_000) },
      { name: 'other.txt', content: 'z' },
    ]);
    await expectRefused(slowly(whole.subarray(0, whole.length - 20)), 400);
    await expectRefused(slowly(whole.subarray(0, Math.floor(whole.length / 2))), 400);
    await expectRefused(slowly(Buffer.from('this is not gzip at all, just text')), 400);
    // A valid gzip around something that is not a tar.
    await expectRefused(slowly(zlib.gzipSync(Buffer.alloc(2000, 7))), 400);
  });

  it('is for team members only, and an artifact is only visible to its team', async () => {
    const alice = await loginToken(server.url, PLAIN_USER);
    const res = await uploadArtifact(
      server.url,
      alice,
      'main',
      slowly(await craftedTarGz([{ name: 'a', content: 'a' }])),
    );
    expect(res.status).toBe(403);
    await res.text();
    const anonymous = await fetch(`${server.url}/api/v1/teams/main/artifacts/1`);
    expect(anonymous.status).toBe(401);
    expect(
      (await fetch(`${server.url}/api/v1/teams/main/artifacts/99999`, { headers: authHeaders(token) }))
        .status,
    ).toBe(404);
  });
});
