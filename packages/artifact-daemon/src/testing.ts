// For tests of the daemon and of its users (`@jetbridge/artifact-daemon/testing`): TLS material made on the
// spot, so nothing secret is committed.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface TestCertificates {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** The CA certificate's path (ca.crt in the directory). */
  caFile: string;
}

/**
 * A CA and a certificate for 127.0.0.1 signed by it (for a server and a client alike), made in `dir` with the
 * openssl CLI.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
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
  openssl(
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
  await writeFile(
    path.join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  openssl(
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
    'ext.cnf',
  );
  return {
    ca: await readFile(path.join(dir, 'ca.crt')),
    cert: await readFile(path.join(dir, 'daemon.crt')),
    key: await readFile(path.join(dir, 'daemon.key')),
    caFile: path.join(dir, 'ca.crt'),
  };
}
