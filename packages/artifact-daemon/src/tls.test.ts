import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CapabilityKey } from './capability.js';
import { ArtifactDaemonClient } from './client.js';
import { startArtifactDaemon, type ArtifactDaemon } from './server.js';
import { makeTestCertificates } from './testing.js';
import { readTree, removeAll, tarOf, tempDir, TEST_KEY, untarToTemp, writeTree } from './test-support.js';

const key = new CapabilityKey(TEST_KEY);
const owner = { kind: 'upload' as const, teamName: 'main' };

describe('TLS', () => {
  let dir: string;
  let root: string;
  let src: string;
  let certs: { ca: Buffer; cert: Buffer; key: Buffer };
  let daemon: ArtifactDaemon;

  beforeAll(async () => {
    [dir, root, src] = await Promise.all([tempDir('certs'), tempDir('tls-root'), tempDir('src')]);
    certs = await makeTestCertificates(dir);
    await writeTree(src, { 'x.txt': 'over TLS\n' });
    daemon = await startArtifactDaemon({
      root,
      capabilityKey: key,
      host: '127.0.0.1',
      port: 0,
      sweepIntervalMs: 0,
      minAvailableBytes: 0,
      tls: { ...certs, requireClientCert: true },
    });
  });

  afterAll(async () => {
    await daemon.close();
    await removeAll(dir, root, src);
  });

  it('serves artifacts over mutual TLS to a client trusting the CA, with its certificate', async () => {
    expect(daemon.url.startsWith('https://')).toBe(true);
    const client = new ArtifactDaemonClient(daemon.url, { tls: certs });
    const token = key.sign({ handle: 'tls-1', team: 'main', ops: ['put', 'get'], owner });
    await client.put('tls-1', token, () => tarOf(src));
    const out = await untarToTemp(await client.openTar('tls-1', token));
    expect(await readTree(out)).toEqual(await readTree(src));
    await removeAll(out);
  });

  it('refuses clients that do not trust the CA, or bring no certificate', async () => {
    const untrusting = new ArtifactDaemonClient(daemon.url, { attempts: 1 });
    await expect(untrusting.health()).rejects.toThrow(/certificate/);
    const anonymous = new ArtifactDaemonClient(daemon.url, { attempts: 1, tls: { ca: certs.ca } });
    await expect(anonymous.health()).rejects.toThrow(/unreachable/);
  });
});
