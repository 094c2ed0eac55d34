// Garbage collection of artifacts against a real server and PostgreSQL, with short periods instead of the
// defaults (12h retention, 5m container grace): an unused upload goes after its retention, a running
// build's volumes never go, a finished build's registered output stays for the retention while its other
// volumes go with its containers, every deleted volume takes its `artifacts` row, and crash leftovers are
// swept at the next start.
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import type { VolumeInfo } from '@jetbridge/runtime';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import {
  authHeaders,
  createBuild,
  executePlan,
  extractTarGz,
  readBuildEvents,
  statusesOf,
  tarGzOf,
  uploadArtifact,
  type TaskConfigJson,
} from './execute-client.js';

const RETENTION_MS = 6000;
const GRACE_MS = 1000;

let server: TestServer;
let token: string;
let scratch: string;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      CONCOURSE_GC_INTERVAL: '200ms',
      CONCOURSE_GC_ONE_OFF_GRACE_PERIOD: `${GRACE_MS}ms`,
      JETBRIDGE_GC_ARTIFACT_RETENTION: `${RETENTION_MS}ms`,
    },
  });
  token = await loginToken(server.url, ADMIN);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-gc-'));
});

afterAll(async () => {
  await server?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function uploadDir(name: string): Promise<{ id: number; volumeHandle: string }> {
  const dir = path.join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'input.txt'), `content of ${name}\n`);
  const res = await uploadArtifact(server.url, token, 'main', tarGzOf(dir));
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: number };
  const row = await artifactRow(id);
  if (row === undefined) throw new Error(`no artifacts row for upload ${id}`);
  return { id, volumeHandle: row.volume_handle };
}

async function artifactRow(
  id: number,
): Promise<{ volume_handle: string; build_id: number | null } | undefined> {
  const { rows } = await sql<{ volume_handle: string; build_id: number | null }>`
    select volume_handle, build_id from artifacts where id = ${id}`.execute(server.server.ctx.db);
  return rows[0];
}

async function volumes(): Promise<VolumeInfo[]> {
  return server.server.ctx.worker.listVolumes();
}

async function volumeHandles(): Promise<Set<string>> {
  return new Set((await volumes()).map((volume) => volume.handle));
}

async function buildVolumes(buildId: number): Promise<VolumeInfo[]> {
  return (await volumes()).filter((v) => v.owner.kind !== 'upload' && v.owner.buildId === buildId);
}

/** A pass that starts after this call (the first may be one the background loop had already started). */
async function reapNow(): Promise<void> {
  await server.server.artifactReaper.reapOnce();
  await server.server.artifactReaper.reapOnce();
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function sleepUntil(time: number): Promise<void> {
  const wait = time - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

function shTask(script: string, extra: Partial<TaskConfigJson> = {}): TaskConfigJson {
  return { platform: 'linux', run: { path: 'sh', args: ['-c', script] }, ...extra };
}

async function startBuild(plan: unknown): Promise<{ id: number }> {
  const res = await createBuild(server.url, token, 'main', plan);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
}

async function buildArtifacts(buildId: number): Promise<Array<{ id: number; name: string }>> {
  const res = await fetch(`${server.url}/api/v1/builds/${buildId}/artifacts`, {
    headers: authHeaders(token),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Array<{ id: number; name: string }>;
}

async function download(artifactId: number): Promise<Response> {
  return fetch(`${server.url}/api/v1/teams/main/artifacts/${artifactId}`, { headers: authHeaders(token) });
}

/** The status of a download, its body read to the end (an unread body would hold the server's close). */
async function downloadStatus(artifactId: number): Promise<number> {
  const res = await download(artifactId);
  await res.arrayBuffer();
  return res.status;
}

async function buildContainers(buildId: number): Promise<number> {
  const containers = await server.server.ctx.worker.listContainers();
  return containers.filter((container) => container.metadata.buildId === buildId).length;
}

describe('artifact garbage collection', () => {
  it('reaps an upload no build used once its retention has passed, with its artifacts row', async () => {
    const uploadedAt = Date.now();
    const upload = await uploadDir('never-used');
    await reapNow();
    expect(await volumeHandles()).toContain(upload.volumeHandle);
    expect(await downloadStatus(upload.id)).toBe(200);

    // The background loop (every 200ms) removes it; nothing here triggers a pass.
    await waitFor(
      'the unused upload and its row to be reaped',
      async () =>
        !(await volumeHandles()).has(upload.volumeHandle) && (await artifactRow(upload.id)) === undefined,
    );
    expect(Date.now() - uploadedAt).toBeGreaterThanOrEqual(RETENTION_MS);
    expect(await downloadStatus(upload.id)).toBe(404);
    const dataDir = path.join(server.dataDir, 'worker', 'volumes', 'data');
    expect(await readdir(dataDir)).not.toContain(upload.volumeHandle);
  });

  it("never reaps a running build's volumes, its upload included; a finished build's output stays for the retention, its other volumes go with its containers", async () => {
    const upload = await uploadDir('read-by-a-long-build');
    const release = path.join(scratch, 'release-the-build');
    const config = shTask(
      'cp -R in/. out/ && echo scratch > scratch/tmp.txt && ' +
        'while [ ! -e "$RELEASE" ]; do sleep 0.05; done; echo done > out/done.txt',
      {
        inputs: [{ name: 'in' }],
        outputs: [{ name: 'out' }, { name: 'scratch' }],
        params: { RELEASE: release },
      },
    );
    const build = await startBuild(executePlan(config, [{ name: 'in', artifactId: upload.id }], ['out']));
    await waitFor('the task to create its outputs', async () => (await buildVolumes(build.id)).length === 2);

    // Past the upload's retention, while the build still runs: everything it uses stays.
    const running = await buildVolumes(build.id);
    await sleepUntil(Date.now() + RETENTION_MS + 200);
    await reapNow();
    const present = await volumeHandles();
    expect(present).toContain(upload.volumeHandle);
    for (const volume of running) expect(present).toContain(volume.handle);
    expect(await artifactRow(upload.id)).toBeDefined();

    await writeFile(release, '');
    const stream = await readBuildEvents(server.url, token, build.id);
    expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
    const endedAt = Date.now();
    const [output] = await buildArtifacts(build.id);
    if (output === undefined) throw new Error('the build registered no output');
    expect(output.name).toBe('out');
    const outputRow = await artifactRow(output.id);
    const scratchHandles = running
      .map((volume) => volume.handle)
      .filter((handle) => handle !== outputRow?.volume_handle);
    expect(scratchHandles).toHaveLength(1);

    // The step's container is kept for the grace period; until it goes, so do none of the build's volumes.
    expect(await buildContainers(build.id)).toBe(1);
    await waitFor(
      'the finished step container to be destroyed',
      async () => (await buildContainers(build.id)) === 0,
    );
    expect(Date.now() - endedAt).toBeGreaterThanOrEqual(GRACE_MS - 100);

    // Container gone: the unregistered output goes, the registered one and its row stay, and download.
    await reapNow();
    expect(Date.now() - endedAt).toBeLessThan(RETENTION_MS);
    const afterGrace = await volumeHandles();
    expect(afterGrace).not.toContain(scratchHandles[0]);
    expect(afterGrace).toContain(outputRow?.volume_handle);
    const fetched = await download(output.id);
    expect(fetched.status).toBe(200);
    const outDir = path.join(scratch, 'downloaded');
    await mkdir(outDir);
    await extractTarGz(fetched, outDir);
    expect((await readdir(outDir)).sort()).toEqual(['done.txt', 'input.txt']);

    // The upload the build read is past its retention and no running build reads it any more.
    expect(afterGrace).not.toContain(upload.volumeHandle);
    expect(await artifactRow(upload.id)).toBeUndefined();

    // After the retention, the output goes too, and with it the row `fly execute -o` would list.
    await waitFor(
      'the registered output to be reaped',
      async () => (await buildArtifacts(build.id)).length === 0,
    );
    expect(Date.now() - endedAt).toBeGreaterThanOrEqual(RETENTION_MS - 1000);
    expect(await volumeHandles()).not.toContain(outputRow?.volume_handle);
    expect(await buildVolumes(build.id)).toEqual([]);
    expect(await downloadStatus(output.id)).toBe(404);
  });

  it('keeps artifacts across a restart and sweeps what a crash left half-written', async () => {
    const upload = await uploadDir('survives-restart');
    const root = path.join(server.dataDir, 'worker', 'volumes');
    // A crashed upload: data without metadata; an interrupted metadata write; an interrupted delete.
    await mkdir(path.join(root, 'data', 'crashed-upload', 'deep'), { recursive: true });
    await writeFile(path.join(root, 'data', 'crashed-upload', 'deep', 'part.bin'), 'partial');
    await writeFile(path.join(root, 'meta', '.crashed-upload.1234.tmp'), '{');
    await mkdir(path.join(root, 'trash', 'deleted.5678'), { recursive: true });

    await server.restart();

    expect(await readdir(path.join(root, 'data'))).not.toContain('crashed-upload');
    expect(await readdir(path.join(root, 'meta'))).not.toContain('.crashed-upload.1234.tmp');
    expect(await readdir(path.join(root, 'trash'))).not.toContain('deleted.5678');
    const swept = server.logs.find((line) => line['msg'] === 'removed artifact leftovers of a previous run');
    expect(swept?.['strays']).toEqual(
      expect.arrayContaining(['data/crashed-upload', 'meta/.crashed-upload.1234.tmp', 'trash/deleted.5678']),
    );
    // The upload made before the restart is still there and downloads.
    await access(path.join(root, 'data', upload.volumeHandle));
    expect(await downloadStatus(upload.id)).toBe(200);
  });
});
