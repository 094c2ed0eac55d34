import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { tarGzOf, uploadArtifact } from '../execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from '../harness.js';
import { countWorkerDirs, errorLines } from './census.js';
import { cliBuilt, freePort, startCliNode, stopCliNode } from './cli-node.js';
import { runExecute } from './workloads.js';

/**
 * Issue #9 item 3, "artifact store full (ENOSPC)" and "disk of the log full", with real full disks: small
 * tmpfs filesystems mounted for the test (root only; without the right to mount, the tests are skipped and
 * say so — no fake filesystem stands in). Each ends in a clear state that the test checks: the request or
 * build that needed the space fails with a message naming the cause, nothing half-written stays behind, the
 * node keeps serving, and it works again once there is room.
 */
const run = promisify(execFile);

async function canMountTmpfs(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-mount-probe-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
    await run('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}

async function unmount(dir: string): Promise<void> {
  await run('umount', ['-l', dir]).catch(() => undefined);
}

/** Fill `dir`'s filesystem with `file` until `leaveBytes` (about) are free. */
async function fillUpTo(dir: string, file: string, leaveBytes: number): Promise<void> {
  const info = await statfs(dir);
  const free = info.bavail * info.bsize;
  const size = Math.max(0, free - leaveBytes);
  await writeFile(path.join(dir, file), Buffer.alloc(size, 1));
}

/**
 * POST a body stream and return the answer even when the server answers before reading all of it and closes
 * the connection (fetch reports the broken pipe instead of the answer): what a client sees of a refused upload.
 */
async function uploadAnsweredEarly(
  url: string,
  token: string,
  body: Readable,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        // Answered: stop sending, as a client that read the answer does.
        body.unpipe(request);
        body.destroy();
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: text });
      });
      response.on('error', reject);
    });
    request.on('error', (err) => {
      if (!answered) reject(err);
    });
    body.on('error', () => undefined);
    body.pipe(request);
  });
}

const mountable = await canMountTmpfs();
if (!mountable)
  console.warn('faults-disk: cannot mount tmpfs here (needs root); the full-disk tests are skipped');
const describeMountable = mountable ? describe : describe.skip;

describeMountable('artifact store full (ENOSPC)', () => {
  let ts: TestServer;
  let admin: string;
  let dataDir: string;
  let scratch: string;
  let workDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-enospc-'));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-enospc-scratch-'));
    // The worker directory (volumes: uploads and step outputs; containers) on a 16 MiB disk of its own.
    workDir = path.join(dataDir, 'worker');
    await mountTmpfs(workDir, '16m');
    ts = await startTestServer({ env: { JETBRIDGE_DATA_DIR: dataDir, CONCOURSE_LOG_LEVEL: 'info' } });
    admin = await loginToken(ts.url, ADMIN);
  }, 60_000);

  afterAll(async () => {
    await ts?.destroy();
    await unmount(workDir);
    await rm(dataDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('refuses an upload that does not fit with a clear error, keeps nothing of it, and takes uploads again once there is room', async () => {
    await fillUpTo(workDir, 'filler', 1024 * 1024);
    const before = await countWorkerDirs(dataDir);
    // 4 MiB that do not compress: the disk has about 1 MiB left.
    const tar = await run('sh', [
      '-c',
      `mkdir -p ${scratch}/big && head -c 4194304 /dev/urandom > ${scratch}/big/blob && echo ok`,
    ]);
    expect(tar.stdout.trim()).toBe('ok');
    const refused = await uploadAnsweredEarly(
      `${ts.url}/api/v1/teams/main/artifacts`,
      admin,
      tarGzOf(`${scratch}/big`),
    );
    expect(refused).toEqual({
      status: 507,
      body: 'the artifact store is full (no space left on device)',
    });
    expect(await countWorkerDirs(dataDir)).toEqual(before);

    // A build needing room on that disk for its output fails, and says why.
    const full = await runExecute(ts.url, admin, scratch, 'tiny\n', {
      taskScript: 'head -c 4194304 /dev/zero > output/big',
    });
    expect(full.statuses).toEqual(['started', 'failed']);
    expect(full.log).toMatch(/no space left on device/i);

    // The node kept serving; with room again, the same upload and builds work.
    await rm(path.join(workDir, 'filler'));
    const accepted = await uploadArtifact(ts.url, admin, 'main', tarGzOf(`${scratch}/big`));
    expect(accepted.status).toBe(201);
    await accepted.body?.cancel();
    const ok = await runExecute(ts.url, admin, scratch, 'room-again\n');
    expect(ok.statuses).toEqual(['started', 'succeeded']);
    expect(ok.output).toBe('room-again\nran\n');
    // The operator hears of it once, at error level; nothing else went wrong.
    expect(errorLines(ts.logs).map((line) => line['msg'])).toEqual(['artifact store is full']);
  }, 90_000);
});

describeMountable('disk of the log full', () => {
  const describeBuilt = cliBuilt ? it : it.skip;
  let dataDir: string;
  let logDir: string;
  let scratch: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-logfull-'));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-logfull-scratch-'));
    logDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-logfull-disk-'));
    await mountTmpfs(logDir, '256k');
  });

  afterAll(async () => {
    await unmount(logDir);
    await rm(logDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  describeBuilt(
    'keeps the node and its builds running, drops log lines meanwhile, and logs again once there is room',
    async () => {
      const logFile = path.join(logDir, 'web.log');
      const fd = fs.openSync(logFile, 'a');
      // Nearly full before the node starts: its first lines fill the rest.
      await fillUpTo(logDir, 'filler', 4096);
      const node = await startCliNode({ dataDir, port: await freePort(), stdout: fd });
      fs.closeSync(fd);
      try {
        const token = await loginToken(node.url, ADMIN);
        for (let i = 0; i < 3; i++) {
          const build = await runExecute(node.url, token, scratch, `while-full-${i}\n`);
          expect(build.statuses).toEqual(['started', 'succeeded']);
          expect(build.output).toBe(`while-full-${i}\nran\n`);
        }
        expect(node.child.exitCode).toBeNull();
        expect(node.stderr).toContain(
          'jetbridge: cannot write log lines to stdout (ENOSPC); dropping them until it works again',
        );
        // Room again: the next lines reach the log.
        await rm(path.join(logDir, 'filler'));
        const sizeBefore = (await readFile(logFile)).length;
        const after = await runExecute(node.url, token, scratch, 'room-again\n');
        expect(after.statuses).toEqual(['started', 'succeeded']);
        const text = (await readFile(logFile, 'utf8')).slice(sizeBefore);
        expect(text).toContain(`"buildId":${after.buildId}`);
      } finally {
        await stopCliNode(node);
      }
      expect((await node.exited).code).toBe(0);
    },
    90_000,
  );
});
