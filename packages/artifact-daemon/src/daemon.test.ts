import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { extractTar } from '@jetbridge/artifact-store';
import { CapabilityKey, type CapabilityClaims } from './capability.js';
import { ArtifactDaemonClient, DaemonRequestError } from './client.js';
import { startArtifactDaemon, type ArtifactDaemon } from './server.js';
import { readTree, removeAll, tarOf, tempDir, TEST_KEY, untarToTemp, writeTree } from './test-support.js';

const key = new CapabilityKey(TEST_KEY);
const owner = { kind: 'step' as const, buildId: 7, stepName: 'compile' };

function token(handle: string, overrides: Partial<CapabilityClaims> = {}): string {
  return key.sign({
    handle,
    team: 'main',
    ops: ['get', 'put', 'delete', 'stat'],
    owner,
    step: 'c-1',
    ...overrides,
  });
}

async function rawRequest(
  url: string,
  init: { method?: string; token?: string; body?: Buffer } = {},
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.token ? { authorization: `Bearer ${init.token}` } : {},
    ...(init.body ? { body: init.body } : {}),
  });
  return { status: response.status, body: await response.text() };
}

describe('artifact daemon', () => {
  let root: string;
  let source: string;
  let daemon: ArtifactDaemon;
  let client: ArtifactDaemonClient;
  const files = {
    'README.md': '# hello\n',
    'bin/run.sh': '#!/bin/sh\necho run\n',
    'data/blob.bin': randomBytes(300_000),
  };

  beforeAll(async () => {
    root = await tempDir('root');
    source = await tempDir('src');
    await writeTree(source, files);
    daemon = await startArtifactDaemon({
      root,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      nodeName: 'node-a',
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    client = new ArtifactDaemonClient(daemon.url, { retryDelayMs: 20 });
  });

  afterAll(async () => {
    await daemon.close();
    await removeAll(root, source);
  });

  it('stores a tar upload and serves it back, verified, plain and gzip, whole and a sub-path', async () => {
    const put = await client.put('art-1', token('art-1'), () => tarOf(source));
    expect(put.attempts).toBe(1);
    expect(put.bytes).toBe(
      Buffer.byteLength(files['README.md']) + Buffer.byteLength(files['bin/run.sh']) + 300_000,
    );

    const out = await tempDir('get');
    const read = await client.readTar('art-1', token('art-1'), (tar) =>
      extractTar(out, '.', tar).then(() => undefined),
    );
    expect(read.attempts).toBe(1);
    expect(await readTree(out)).toEqual(await readTree(source));

    const gz = await untarToTemp(await client.openTar('art-1', token('art-1'), { gzip: true }), {
      gzip: true,
    });
    expect(await readTree(gz)).toEqual(await readTree(source));
    const sub = await untarToTemp(await client.openTar('art-1', token('art-1'), { path: 'bin' }));
    expect(Object.keys(await readTree(sub))).toEqual(['run.sh']);

    const stat = await client.stat('art-1', token('art-1'));
    expect(stat).toMatchObject({ handle: 'art-1', team: 'main', bytes: put.bytes, owner });
    const head = await fetch(`${daemon.url}/artifacts/art-1`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${token('art-1')}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-jetbridge-bytes')).toBe(String(put.bytes));
    await removeAll(out, gz, sub);
  });

  it("refuses a request without a capability, with a forged, an expired or another artifact's one", async () => {
    await client.put('secret', token('secret'), () => tarOf(source));
    const url = `${daemon.url}/artifacts/secret`;
    expect((await rawRequest(url)).status).toBe(401);
    expect((await rawRequest(url, { token: 'jbcap1.e30.AAAA' })).status).toBe(401);
    const forged = new CapabilityKey(randomBytes(32)).sign({ handle: 'secret', team: 'main', ops: ['get'] });
    const forgedAnswer = await rawRequest(url, { token: forged });
    expect(forgedAnswer).toMatchObject({ status: 401 });
    expect(forgedAnswer.body).toContain('signature');
    const expired = key.sign({ handle: 'secret', team: 'main', ops: ['get'], expiresAt: Date.now() - 1 });
    const expiredAnswer = await rawRequest(url, { token: expired });
    expect(expiredAnswer.status).toBe(401);
    expect(expiredAnswer.body).toContain('expired');
    const other = await rawRequest(url, { token: token('art-1') });
    expect(other.status).toBe(403);
    expect(other.body).toContain('another artifact');
    const readOnly = key.sign({ handle: 'secret', team: 'main', ops: ['get'] });
    expect((await rawRequest(url, { method: 'DELETE', token: readOnly })).status).toBe(403);
    // tampering with the claims breaks the signature
    const [prefix, , mac] = token('secret').split('.');
    const widened = Buffer.from(
      JSON.stringify({ handle: 'secret', team: 'other', ops: ['get'], expiresAt: Date.now() + 60_000 }),
    ).toString('base64url');
    expect((await rawRequest(url, { token: `${prefix}.${widened}.${mac}` })).status).toBe(401);
    // and the artifact is still there for a proper capability
    expect((await client.stat('secret', token('secret')))?.handle).toBe('secret');
  });

  it('never lets a capability issued for team B read, stat or delete an artifact of team A', async () => {
    await client.put('team-a-art', token('team-a-art', { team: 'team-a' }), () => tarOf(source));
    const teamB = key.sign({
      handle: 'team-a-art',
      team: 'team-b',
      ops: ['get', 'stat', 'delete', 'put'],
      owner,
    });
    for (const [method, suffix] of [
      ['GET', ''],
      ['HEAD', ''],
      ['GET', '/stat'],
      ['DELETE', ''],
    ] as const) {
      const answer = await rawRequest(`${daemon.url}/artifacts/team-a-art${suffix}`, {
        method,
        token: teamB,
      });
      expect({ method, suffix, status: answer.status }).toEqual({ method, suffix, status: 403 });
    }
    const overwrite = await rawRequest(`${daemon.url}/artifacts/team-a-art`, {
      method: 'PUT',
      token: teamB,
      body: Buffer.alloc(1024),
    });
    expect(overwrite.status).toBe(409);
    const teamA = await untarToTemp(
      await client.openTar('team-a-art', token('team-a-art', { team: 'team-a' })),
    );
    expect(await readTree(teamA)).toEqual(await readTree(source));
    await removeAll(teamA);
  });

  it('adopts a step output written in place under incoming/, and deletes idempotently', async () => {
    const incoming = path.join(root, 'incoming', 'out-1');
    await writeTree(incoming, { 'result.txt': 'built\n' });
    await client.commit('out-1', token('out-1'));
    expect(await readdir(path.join(root, 'incoming'))).not.toContain('out-1');
    const got = await untarToTemp(await client.openTar('out-1', token('out-1')));
    expect(await readTree(got)).toEqual({ 'result.txt': Buffer.from('built\n').toString('base64') });
    await expect(client.commit('missing', token('missing'))).rejects.toMatchObject({ httpStatus: 404 });
    // an output that started from its earlier content replaces it on commit, and only when asked to
    await writeTree(incoming, { 'result.txt': 'rebuilt\n' });
    await expect(client.commit('out-1', token('out-1'))).rejects.toMatchObject({ httpStatus: 409 });
    await expect(
      client.commit('out-1', token('out-1', { team: 'other' }), { replace: true }),
    ).rejects.toMatchObject({ httpStatus: 403 });
    await client.commit('out-1', token('out-1'), { replace: true });
    const again = await untarToTemp(await client.openTar('out-1', token('out-1')));
    expect(await readTree(again)).toEqual({ 'result.txt': Buffer.from('rebuilt\n').toString('base64') });
    // a tar streamed into a path of the existing artifact
    await client.extract('out-1', token('out-1'), 'sub/dir', await tarOf(source));
    const merged = await untarToTemp(await client.openTar('out-1', token('out-1'), { path: 'sub/dir' }));
    expect(await readTree(merged)).toEqual(await readTree(source));
    await expect(
      client.extract('out-1', token('out-1', { team: 'other' }), '.', await tarOf(source)),
    ).rejects.toMatchObject({ httpStatus: 403 });
    await removeAll(again, merged);
    await client.delete('out-1', token('out-1'));
    await client.delete('out-1', token('out-1'));
    expect(await client.stat('out-1', token('out-1'))).toBeUndefined();
    await removeAll(got);
  });

  it('answers bad input with clear statuses, never a crash', async () => {
    expect((await rawRequest(`${daemon.url}/artifacts/..%2Fetc`, { token: token('../etc') })).status).toBe(
      400,
    );
    expect((await rawRequest(`${daemon.url}/nope`)).status).toBe(404);
    expect(
      (await rawRequest(`${daemon.url}/artifacts/x`, { method: 'PATCH', token: token('x') })).status,
    ).toBe(405);
    const notTar = await rawRequest(`${daemon.url}/artifacts/junk`, {
      method: 'PUT',
      token: token('junk'),
      body: Buffer.from('not a tar archive at all'),
    });
    expect(notTar.status).toBe(400);
    expect(await client.stat('junk', token('junk'))).toBeUndefined();
    const noOwner = key.sign({ handle: 'orphan', team: 'main', ops: ['put'] });
    expect(
      (
        await rawRequest(`${daemon.url}/artifacts/orphan`, {
          method: 'PUT',
          token: noOwner,
          body: Buffer.alloc(1024),
        })
      ).status,
    ).toBe(403);
    expect((await client.health()).ready).toBe(true);
  });

  it('reports capacity as the file system does', async () => {
    const health = await client.health();
    const df =
      execFileSync('df', ['-B1', '--output=size,avail', root], { encoding: 'utf8' })
        .trim()
        .split('\n')[1]
        ?.trim()
        .split(/\s+/)
        .map(Number) ?? [];
    expect(health.node).toBe('node-a');
    expect(health.capacity.totalBytes).toBe(df[0]);
    // other engineers write to the same disk meanwhile: within 64 MiB
    expect(Math.abs(health.capacity.availableBytes - (df[1] ?? 0))).toBeLessThan(64 * 1024 * 1024);
    expect(health.artifacts).toBe((await daemon.store.list()).length);
  });

  it('lists artifacts for a list capability only', async () => {
    await expect(client.list(token('*'))).rejects.toMatchObject({ httpStatus: 403 });
    const listed = await client.list(key.sign({ handle: '*', team: 'main', ops: ['list'] }));
    expect(listed.map((each) => each.handle)).toEqual((await daemon.store.list()).map((each) => each.handle));
  });

  it('sweeps artifacts unused for the TTL, keeping recently used ones', async () => {
    const sweepRoot = await tempDir('sweep');
    const short = await startArtifactDaemon({
      root: sweepRoot,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      ttlMs: 1_200,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    const shortClient = new ArtifactDaemonClient(short.url);
    try {
      await shortClient.put('old', token('old'), () => tarOf(source));
      await shortClient.put('young', token('young'), () => tarOf(source));
      await writeTree(path.join(sweepRoot, 'incoming', 'abandoned'), {
        'half.txt': 'a step that never committed',
      });
      await shortClient.put('renewed', token('renewed'), () => tarOf(source));
      await new Promise((resolve) => setTimeout(resolve, 700));
      await removeAll(await untarToTemp(await shortClient.openTar('young', token('young'))));
      await shortClient.renew('renewed', token('renewed'));
      await expect(shortClient.renew('renewed', token('renewed', { team: 'other' }))).rejects.toMatchObject({
        httpStatus: 403,
      });
      await new Promise((resolve) => setTimeout(resolve, 600));
      const swept = await short.sweep();
      expect(swept.expired.sort()).toEqual(['incoming/abandoned', 'old']);
      expect((await shortClient.stat('renewed', token('renewed')))?.handle).toBe('renewed');
      expect(await shortClient.stat('old', token('old'))).toBeUndefined();
      expect((await shortClient.stat('young', token('young')))?.handle).toBe('young');
    } finally {
      await short.close();
      await removeAll(sweepRoot);
    }
  });
});

describe('pulling from a peer (mirrors)', () => {
  it('copies an artifact between daemons, verified, and refuses a peer token of another team', async () => {
    const [rootA, rootB, src] = await Promise.all([tempDir('a'), tempDir('b'), tempDir('src')]);
    await writeTree(src, { 'a.txt': 'mirror me\n', 'big.bin': randomBytes(1 << 20) });
    const a = await startArtifactDaemon({
      root: rootA,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    const b = await startArtifactDaemon({
      root: rootB,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    try {
      const clientA = new ArtifactDaemonClient(a.url);
      const clientB = new ArtifactDaemonClient(b.url);
      await clientA.put('m-1', token('m-1'), () => tarOf(src));
      const result = await clientB.pullFrom('m-1', token('m-1'), { url: a.url, token: token('m-1') });
      expect(result.attempts).toBe(1);
      const copy = await untarToTemp(await clientB.openTar('m-1', token('m-1')));
      expect(await readTree(copy)).toEqual(await readTree(src));
      const wrongTeam = key.sign({ handle: 'm-1', team: 'other', ops: ['get'] });
      const refused = clientB.pullFrom('m-1', token('m-1', { team: 'other' }), {
        url: a.url,
        token: wrongTeam,
      });
      await expect(refused).rejects.toMatchObject({ httpStatus: 409 }); // b already has it
      await clientB.delete('m-1', token('m-1'));
      await expect(
        clientB.pullFrom('m-1', token('m-1', { team: 'other' }), { url: a.url, token: wrongTeam }),
      ).rejects.toThrow(/may not access/);
      expect(await clientB.stat('m-1', token('m-1', { team: 'other' }))).toBeUndefined();
      await removeAll(copy);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await removeAll(rootA, rootB, src);
    }
  });
});

describe('faults', () => {
  it('a daemon restart mid-transfer: the read retries from the start and the result is complete', async () => {
    const [root, src] = await Promise.all([tempDir('restart'), tempDir('src')]);
    await writeTree(src, { 'big.bin': randomBytes(24 << 20), 'small.txt': 'tail\n' });
    let daemon = await startArtifactDaemon({
      root,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    const port = daemon.port;
    const client = new ArtifactDaemonClient(daemon.url, { retryDelayMs: 100, attempts: 5 });
    try {
      await client.put('big', token('big'), () => tarOf(src));
      const out = await tempDir('restart-out');
      let restarted: Promise<void> | undefined;
      const result = await client.readTar('big', token('big'), async (tar, attempt) => {
        await removeAll(out);
        await mkdir(out);
        if (attempt === 1) {
          // cut the daemon once the first megabytes arrived, and start it again on the same port and disk
          let seen = 0;
          tar.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > 4 << 20 && !restarted) {
              restarted = (async () => {
                await daemon.close();
                daemon = await startArtifactDaemon({
                  root,
                  capabilityKey: key,
                  host: '127.0.0.1',
                  port,
                  sweepIntervalMs: 0,
                  minAvailableBytes: 0,
                });
              })();
            }
          });
        }
        await extractTar(out, '.', tar);
      });
      await restarted;
      expect(result.attempts).toBeGreaterThanOrEqual(2);
      expect(await readTree(out)).toEqual(await readTree(src));
      await removeAll(out);
    } finally {
      await daemon.close();
      await removeAll(root, src);
    }
  });

  it('a daemon that stays down mid-transfer: the read fails clearly, naming the interruption', async () => {
    const [root, src] = await Promise.all([tempDir('down'), tempDir('src')]);
    await writeTree(src, { 'big.bin': randomBytes(16 << 20) });
    const daemon = await startArtifactDaemon({
      root,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
    });
    const client = new ArtifactDaemonClient(daemon.url, { retryDelayMs: 20, attempts: 3 });
    try {
      await client.put('big', token('big'), () => tarOf(src));
      const out = await tempDir('down-out');
      let closed = false;
      const failure = client.readTar('big', token('big'), async (tar) => {
        tar.on('data', () => {
          if (!closed) {
            closed = true;
            void daemon.close();
          }
        });
        await removeAll(out);
        await mkdir(out);
        await extractTar(out, '.', tar);
      });
      await expect(failure).rejects.toBeInstanceOf(DaemonRequestError);
      await expect(failure).rejects.toThrow(/unreachable|interrupted|without its checksum/);
      await removeAll(out);
    } finally {
      await daemon.close();
      await removeAll(root, src);
    }
  });

  const canMount = process.getuid?.() === 0;
  (canMount ? it : it.skip)(
    'a full disk: the upload is refused with 507, nothing half-written stays, health says not ready',
    async () => {
      const mountPoint = await tempDir('tmpfs');
      const src = await tempDir('src');
      await writeTree(src, { 'big.bin': randomBytes(6 << 20) });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
      } catch {
        await removeAll(mountPoint, src);
        return; // no tmpfs here (unprivileged container): nothing to test
      }
      const daemon = await startArtifactDaemon({
        root: mountPoint,
        capabilityKey: key,
        host: '127.0.0.1',
        port: 0,
        sweepIntervalMs: 0,
        minAvailableBytes: 512 * 1024,
        nodeName: 'small-node',
      });
      const client = new ArtifactDaemonClient(daemon.url, { retryDelayMs: 20 });
      try {
        const refused = client.put('too-big', token('too-big'), () => tarOf(src));
        await expect(refused).rejects.toMatchObject({ httpStatus: 507, code: 'disk_full' });
        await expect(refused).rejects.toThrow(/artifact disk of node small-node is full/);
        expect(await daemon.store.list()).toEqual([]);
        expect(await readdir(path.join(mountPoint, 'data'))).toEqual([]);
        // the disk is free again, so the daemon is ready; a small artifact still fits
        expect((await client.health()).ready).toBe(true);
        await writeTree(src, { 'big.bin': 'small now' });
        await client.put('fits', token('fits'), () => tarOf(src));
        // fill the disk from outside: the daemon reports not ready and refuses uploads up front
        await writeTree(mountPoint, { filler: Buffer.alloc(3.7 * 1024 * 1024) }).catch(() => undefined);
        const health = await client.health();
        expect(health.ready).toBe(false);
        expect(health.reason).toMatch(/bytes left/);
        await expect(client.put('more', token('more'), () => tarOf(src))).rejects.toMatchObject({
          httpStatus: 507,
        });
        expect((await stat(path.join(mountPoint, 'data', 'fits'))).isDirectory()).toBe(true);
      } finally {
        await daemon.close();
        execFileSync('umount', [mountPoint]);
        await removeAll(mountPoint, src);
      }
    },
  );
});
