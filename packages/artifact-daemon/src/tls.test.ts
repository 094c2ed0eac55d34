import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CapabilityKey } from './capability.js';
import { ArtifactDaemonClient } from './client.js';
import { startArtifactDaemon, type ArtifactDaemon } from './server.js';
import { readTree, removeAll, tarOf, tempDir, TEST_KEY, untarToTemp, writeTree } from './test-support.js';

const key = new CapabilityKey(TEST_KEY);
const owner = { kind: 'upload' as const, teamName: 'main' };

/** A CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
function makeCertificates(dir: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'daemon.key',
    '-out',
    'daemon.csr',
    '-subj',
    '/CN=daemon',
  );
  const ext = path.join(dir, 'ext.cnf');
  execFileSync('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ${ext}`,
  ]);
  run(
    'x509',
    '-req',
    '-in',
    'daemon.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'daemon.crt',
    '-days',
    '1',
    '-extfile',
    ext,
  );
  return {
    ca: readFileSync(path.join(dir, 'ca.crt')),
    cert: readFileSync(path.join(dir, 'daemon.crt')),
    key: readFileSync(path.join(dir, 'daemon.key')),
  };
}

describe('TLS', () => {
  let dir: string;
  let root: string;
  let src: string;
  let certs: { ca: Buffer; cert: Buffer; key: Buffer };
  let daemon: ArtifactDaemon;

  beforeAll(async () => {
    [dir, root, src] = await Promise.all([tempDir('certs'), tempDir('tls-root'), tempDir('src')]);
    certs = makeCertificates(dir);
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
