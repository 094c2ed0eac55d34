import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { makeTar, readTar, type TarEntrySpec } from '@jetbridge/runtime/conformance';
import type { Container, ContainerSpec, ProcessIO, Volume } from '@jetbridge/runtime';
import { execHelperFramed } from './helper/helper-exec.js';
import { execInPod } from './exec/index.js';
import type { K8sContainer, K8sWorker } from './index.js';
import { Collector, helperBuild, startTestEnvironment, type TestEnvironment } from './test-environment.js';

// jetbridge-helper's behaviour inside real (test-server) pods: input copies, terminals, users, tar streams.

const namespace = 'helper';
let env: TestEnvironment;
let worker: K8sWorker;
const registry = new Registry();

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    handle: `helper-${randomUUID()}`,
    env: {},
    mounts: [],
    metadata: { type: 'task', teamName: 'main', stepName: 'helper' },
    ...overrides,
  };
}

async function script(container: Container, text: string, io: ProcessIO = {}, user?: string) {
  const stdout = new Collector();
  const stderr = new Collector();
  const process = await container.run(
    { path: 'sh', args: ['-c', text], ...(user ? { user } : {}) },
    { stdout, stderr, ...io },
  );
  const status = await process.wait();
  return { status, stdout: stdout.text(), stderr: stderr.text() };
}

async function volumeWith(entries: TarEntrySpec[]): Promise<Volume> {
  const volume = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
  await volume.streamIn('.', makeTar(entries));
  return volume;
}

const build = helperBuild;
const suite = 'skip' in build ? describe.skip : describe;
if ('skip' in build) {
  const why = build.skip;
  describe('jetbridge-helper', () => it.skip(why, () => undefined));
}

suite('jetbridge-helper in step pods', () => {
  beforeAll(async () => {
    if ('skip' in build) return;
    env = await startTestEnvironment(namespace, build.path);
    worker = await env.newWorker({ metrics: registry });
  });
  afterAll(async () => {
    await worker?.close();
    await env?.close();
  });

  it('copies inputs in parallel with modes, symlinks and nesting; a task changes its copy, not the artifact', async () => {
    const entries: TarEntrySpec[] = [
      { name: 'bin', type: 'directory', mode: 0o750 },
      { name: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
      { name: 'link', type: 'symlink', linkname: 'bin/tool' },
      ...Array.from({ length: 400 }, (_, i) => ({ name: `many/${i % 20}/file-${i}.txt`, content: `${i}\n` })),
    ];
    const input = await volumeWith(entries);
    const other = await volumeWith([{ name: 'x.txt', content: 'other\n' }]);
    const container = await worker.createContainer(
      spec({
        mounts: [
          { volume: input, path: 'src', readOnly: true },
          { volume: other, path: '/opt/other', readOnly: true },
        ],
      }),
    );
    const listing = await script(
      container,
      'cd src && stat -c "%a %n" bin bin/tool && readlink link && ./link && find many -type f | wc -l && cat /opt/other/x.txt',
    );
    expect(listing).toEqual({
      status: 0,
      stdout: '750 bin\n755 bin/tool\nbin/tool\ntool\n400\nother\n',
      stderr: '',
    });
    expect((await script(container, 'echo changed > src/many/0/file-0.txt && rm src/link')).status).toBe(0);
    const artifact = await readTar(await input.streamOut('many/0'));
    expect(artifact.get('file-0.txt')?.content.toString()).toBe('0\n');
    expect((await readTar(await input.streamOut('.'))).get('link')?.linkname).toBe('bin/tool');

    const metric = async (name: string) => (await registry.getSingleMetricAsString(name)) ?? '';
    const deadline = Date.now() + 5_000;
    while (!/_count \d/.test(await metric('jetbridge_k8s_artifact_copy_bytes')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The init container's report: both inputs, 402 files of a few bytes each.
    expect(await metric('jetbridge_k8s_artifact_copy_bytes')).toMatch(
      /jetbridge_k8s_artifact_copy_bytes_count [1-9]/,
    );
    expect(await metric('jetbridge_k8s_pod_start_seconds')).toMatch(
      /jetbridge_k8s_pod_start_seconds_count [1-9]/,
    );
    expect(await metric('jetbridge_k8s_exec_bytes_total')).toMatch(
      /purpose="spawn",direction="received"} [1-9]/,
    );
  });

  it('gives a tty process a real terminal, resizable, with stdin through it', async () => {
    const container = await worker.createContainer(spec());
    const stdin = new PassThrough();
    const stdout = new Collector();
    const process = await container.run(
      {
        path: 'sh',
        args: ['-c', 'test -t 0 && stty size; read line; stty size; echo "got $line"'],
        tty: { rows: 24, columns: 80 },
      },
      { stdin, stdout },
    );
    const deadline = Date.now() + 10_000;
    while (!stdout.text().includes('24 80') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await process.resize({ rows: 40, columns: 120 });
    stdin.write('hello\n');
    expect(await process.wait()).toBe(0);
    const text = stdout.text().replace(/\r/g, '');
    expect(text).toContain('24 80\n');
    expect(text).toContain('40 120\n');
    expect(text).toContain('got hello\n');
    stdin.end();
  });

  it('runs processes as another user when asked', async () => {
    const container = await worker.createContainer(spec());
    expect(await script(container, 'id -u', {}, 'nobody')).toMatchObject({ status: 0, stdout: '65534\n' });
    expect(await script(container, 'id -u; id -g', {}, '1234:2345')).toMatchObject({
      stdout: '1234\n2345\n',
    });
  });

  it('streams a directory out as tar and a tar in, refusing entries that escape', async () => {
    const container = (await worker.createContainer(spec())) as K8sContainer;
    const target = container.target;
    const tarIn = (entries: TarEntrySpec[]) =>
      execInPod({
        kubeConfig: target.kubeConfig,
        namespace: target.namespace,
        pod: target.pod,
        container: target.container,
        command: [target.helperPath, 'tar-in', '--dir=/tmp/area', '--path=sub'],
        stdin: makeTar(entries),
        stdinIsSelfDelimiting: true,
        killOnAbort: false,
      });
    expect((await script(container, 'mkdir -p /tmp/area')).status).toBe(0);
    const good = await tarIn([
      { name: 'a/b.txt', content: 'b\n', mode: 0o640 },
      { name: 'a/link', type: 'symlink', linkname: 'b.txt' },
      { name: 'a/hard', type: 'link', linkname: 'a/b.txt' },
    ]);
    expect(good.exitCode).toBe(0);
    for (const evil of [
      [{ name: '../escape.txt', content: 'x' }],
      [{ name: 'up', type: 'symlink' as const, linkname: '../..' }],
      [
        { name: 'dir-link', type: 'symlink' as const, linkname: '.' },
        { name: 'dir-link/through.txt', content: 'x' },
      ],
    ]) {
      expect((await tarIn(evil)).exitCode).toBe(4);
    }

    const tarOut = async (path: string) => {
      const stdout = new Collector();
      const result = await execInPod({
        kubeConfig: target.kubeConfig,
        namespace: target.namespace,
        pod: target.pod,
        container: target.container,
        command: [target.helperPath, 'tar-out', '--dir=/tmp/area', `--path=${path}`],
        stdout,
        killOnAbort: false,
      });
      return { exitCode: result.exitCode, tar: stdout.bytes() };
    };
    const out = await tarOut('sub');
    expect(out.exitCode).toBe(0);
    const entries = await readTar(Readable.from([out.tar]));
    // The refused archives stopped at their bad entry: only a harmless link to `.` got in before it.
    expect([...entries.keys()].sort()).toEqual(['a', 'a/b.txt', 'a/hard', 'a/link', 'dir-link']);
    expect(entries.get('dir-link')?.linkname).toBe('.');
    expect((await script(container, 'ls /tmp/area /tmp | grep -c escape || true')).stdout).toBe('0\n');
    expect(entries.get('a/b.txt')?.mode).toBe(0o640);
    expect(entries.get('a/link')?.linkname).toBe('b.txt');
    expect(entries.get('a/hard')?.content.toString()).toBe('b\n');
    expect((await tarOut('../etc')).exitCode).toBe(4);
    expect((await tarOut('no/such')).exitCode).toBe(3);
    const single = await readTar(Readable.from([(await tarOut('sub/a/b.txt')).tar]));
    expect([...single.keys()]).toEqual(['b.txt']);
  });

  it('answers a tail for an unknown process with a not-found frame', async () => {
    const container = (await worker.createContainer(spec())) as K8sContainer;
    const frames: string[] = [];
    const outcome = await execHelperFramed(container.target, ['tail', '--id=nope'], {
      onFrame: (kind, payload) => {
        frames.push(`${kind}${payload.toString('utf8')}`);
      },
    });
    expect(outcome.result?.exitCode).toBe(0);
    expect(frames).toEqual(['E{"code":"not-found","message":"no process nope"}']);
  });
});
