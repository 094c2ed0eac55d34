import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { ArtifactStore, ArtifactStoreError, InMemoryArtifactRegistry } from '@jetbridge/artifact-store';
import { FileNotFoundError, RuntimeError } from '@jetbridge/runtime';
import { describeWorkerConformance, makeTar, readTar } from '@jetbridge/runtime/conformance';
import { findProcessesInGroup, isProcessRunning, LocalWorker } from './index.js';
import type { Logger } from './index.js';

async function temporaryWorkDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'jetbridge-local-'));
}

describeWorkerConformance('local', async () => {
  const workDir = await temporaryWorkDir();
  const worker = await LocalWorker.create({ workDir, name: 'local-conformance', terminateGraceMs: 2_000 });
  return {
    worker,
    cleanup: async () => {
      await worker.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
});

// The opt-in for speed: inputs are the artifacts themselves, so the isolation tests do not apply.
describeWorkerConformance(
  'local, inputs as symlinks',
  async () => {
    const workDir = await temporaryWorkDir();
    const worker = await LocalWorker.create({ workDir, readOnlyMounts: 'symlink' });
    return {
      worker,
      cleanup: async () => {
        await worker.close();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  },
  { inputs: 'shared' },
);

class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    callback();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function eventually(
  condition: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function commandExists(name: string): Promise<boolean> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) =>
    execFile('sh', ['-c', `command -v ${name}`], (err) => resolve(err === null)),
  );
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const taskMetadata = { type: 'task' as const, teamName: 'main' };
const buildOwner = { kind: 'build' as const, buildId: 1 };

describe('LocalWorker', () => {
  let workDir: string;
  let worker: LocalWorker;
  const logged: Array<{ level: string; obj: object; msg: string }> = [];
  const logger: Logger = {
    info: (obj, msg) => logged.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => logged.push({ level: 'warn', obj, msg }),
  };

  beforeAll(async () => {
    workDir = await temporaryWorkDir();
    worker = await LocalWorker.create({ workDir, name: 'local-test', logger });
  });
  afterAll(async () => {
    await worker.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('kills the whole process group: a background child dies with its shell', async () => {
    const container = await worker.createContainer({
      handle: 'group-kill',
      env: {},
      mounts: [],
      metadata: taskMetadata,
    });
    const stdout = new Collector();
    const shell = await container.run({ path: 'sh', args: ['-c', 'sleep 300 & echo $!; wait'] }, { stdout });
    await eventually(() => /^\d+\n/.test(stdout.text()), 10_000, 'the child pid');
    const childPid = Number(stdout.text().trim());
    expect(isGone(childPid)).toBe(false);

    await shell.signal('kill');
    expect(await shell.wait()).toBe(137); // 128 + SIGKILL, as a shell reports it
    // Killed at once; the pid disappears once its new parent (init) reaps it.
    await eventually(async () => !(await isProcessRunning(childPid)), 2_000, 'the child to stop');
    await eventually(() => isGone(childPid), 20_000, 'the child to be reaped (ESRCH)');
    await container.destroy();
  });

  it('kills what a process left running in its group when it exits, so its output ends', async () => {
    const container = await worker.createContainer({
      handle: 'stragglers',
      env: {},
      mounts: [],
      metadata: taskMetadata,
    });
    const stdout = new Collector();
    // The background sleep holds stdout open: Concourse would wait for it; here the step ends with its process.
    const started = Date.now();
    const shell = await container.run({ path: 'sh', args: ['-c', 'sleep 300 & echo $!'] }, { stdout });
    expect(await shell.wait()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    const childPid = Number(stdout.text().trim());
    await eventually(async () => !(await isProcessRunning(childPid)), 2_000, 'the straggler to stop');
    expect(await findProcessesInGroup(childPid)).toEqual([]);
    await container.destroy();
  });

  it('holds a process back while a slow reader catches up, and loses nothing at exit', async () => {
    const blob = Buffer.alloc(256 * 1024, 'x');
    const input = await worker.createVolume({ owner: buildOwner, teamName: 'main' });
    await input.streamIn('.', makeTar([{ name: 'blob', content: blob }]));
    const container = await worker.createContainer({
      handle: 'slow-reader',
      env: {},
      mounts: [{ volume: input, path: 'in', readOnly: true }],
      metadata: taskMetadata,
    });
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setTimeout(callback, 1_500); // slower than the 2s drain allowance after exit, over a few chunks
      },
    });
    const cat = await container.run({ path: 'cat', args: ['in/blob'] }, { stdout: slow });
    expect(await cat.wait()).toBe(0);
    expect(Buffer.concat(received).equals(blob)).toBe(true);
    await container.destroy();
    await input.destroy();
  });

  it('ends a process whose output a process outside its group keeps open, once that output is idle', async () => {
    if (!(await commandExists('setsid'))) return; // util-linux; not on macOS
    const container = await worker.createContainer({
      handle: 'escaped',
      env: {},
      mounts: [],
      metadata: taskMetadata,
    });
    const stdout = new Collector();
    const started = Date.now();
    // setsid puts the sleep in a session of its own: out of reach of the group kill, holding stdout.
    const shell = await container.run(
      { path: 'sh', args: ['-c', 'setsid sleep 300 & echo $!; sleep 1'] },
      { stdout },
    );
    try {
      expect(await shell.wait()).toBe(0);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(2_000); // the idle allowance: the escaped sleep held stdout
      expect(elapsed).toBeLessThan(10_000);
      expect(await isProcessRunning(Number(stdout.text().trim()))).toBe(true);
    } finally {
      const escapedPid = Number(stdout.text().trim());
      if (escapedPid > 0) process.kill(escapedPid, 'SIGKILL');
    }
    await container.destroy();
  });

  it('terminate sends SIGTERM to the group, then SIGKILL after the grace period', async () => {
    const patientDir = await temporaryWorkDir();
    const patient = await LocalWorker.create({ workDir: patientDir, terminateGraceMs: 500 });
    try {
      const container = await patient.createContainer({
        handle: 'terminate',
        env: {},
        mounts: [],
        metadata: taskMetadata,
      });
      const stdout = new Collector();
      // The shell waits with the `wait` builtin, which a trapped signal interrupts at once. A foreground
      // `sleep 1` would not do: sh runs a trap only once its foreground command is over, and a SIGTERM that
      // lands while sh is starting the next sleep can miss that sleep (not exec'd yet), and then the trap
      // waits up to a whole second, past the grace period: seen under load.
      const stubborn = await container.run(
        {
          path: 'sh',
          args: ['-c', "trap 'echo got-term' TERM; echo ready; while :; do sleep 1 & wait $!; done"],
        },
        { stdout },
      );
      await eventually(() => stdout.text().includes('ready'), 10_000, 'the trap to be set');
      const started = Date.now();
      await stubborn.signal('terminate');
      expect(await stubborn.wait()).toBe(137);
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect(stdout.text()).toContain('got-term');
    } finally {
      await patient.close();
      await rm(patientDir, { recursive: true, force: true });
    }
  });

  it('passes only PATH, HOME, PWD and the spec env: never the server environment', async () => {
    process.env.JETBRIDGE_TEST_SECRET = 'must-not-leak';
    try {
      const container = await worker.createContainer({
        handle: 'env',
        env: { FROM_SPEC: 'yes' },
        mounts: [],
        metadata: taskMetadata,
      });
      const stdout = new Collector();
      // `env` is an external command: it prints exactly the environment the process got.
      const printer = await container.run({ path: 'env', args: [] }, { stdout });
      expect(await printer.wait()).toBe(0);
      const names = stdout
        .text()
        .trim()
        .split('\n')
        .map((line) => line.slice(0, line.indexOf('=')))
        .sort();
      expect(names).toEqual(['FROM_SPEC', 'HOME', 'PATH', 'PWD']);
      expect(stdout.text()).toContain(`HOME=${path.join(workDir, 'containers', 'env', 'home')}\n`);
      await container.destroy();
    } finally {
      delete process.env.JETBRIDGE_TEST_SECRET;
    }
  });

  it('lays a task out as Concourse does: mounts and run.dir below the working directory', async () => {
    const input = await worker.createVolume({ handle: 'layout-input', owner: buildOwner, teamName: 'main' });
    await input.streamIn(
      '.',
      makeTar([{ name: 'ci/test.sh', content: '#!/bin/sh\necho "test in $(pwd)"\n', mode: 0o755 }]),
    );
    const container = await worker.createContainer({
      handle: 'layout',
      dir: '/tmp/build/1234abcd',
      env: {},
      mounts: [{ volume: input, path: 'repo', readOnly: true }],
      metadata: taskMetadata,
    });
    const workingDir = path.join(workDir, 'containers', 'layout', 'root', 'tmp', 'build', '1234abcd');
    // An input is the container's own copy of its volume (Concourse's copy-on-write input).
    expect((await lstat(path.join(workingDir, 'repo'))).isDirectory()).toBe(true);

    // A relative run.path from the working dir, an absolute one naming the container path, and run.dir.
    for (const spec of [
      { path: 'repo/ci/test.sh', args: [] },
      { path: '/tmp/build/1234abcd/repo/ci/test.sh', args: [] },
      { path: './test.sh', args: [], dir: 'repo/ci' },
    ]) {
      const stdout = new Collector();
      const task = await container.run(spec, { stdout });
      expect(await task.wait()).toBe(0);
      expect(stdout.text()).toMatch(/^test in \//);
    }
    await container.destroy();
    await input.destroy();
  });

  it('refuses mounts nested in other mounts, and volumes it does not hold', async () => {
    const outer = await worker.createVolume({ handle: 'outer', owner: buildOwner, teamName: 'main' });
    const inner = await worker.createVolume({ handle: 'inner', owner: buildOwner, teamName: 'main' });
    await expect(
      worker.createContainer({
        handle: 'nested',
        env: {},
        mounts: [
          { volume: outer, path: 'repo' },
          { volume: inner, path: 'repo/out' },
        ],
        metadata: taskMetadata,
      }),
    ).rejects.toThrow(/inside the mount/);
    const foreign = {
      handle: 'not-here',
      streamIn: async () => {},
      streamOut: async () => new PassThrough(),
      destroy: async () => {},
    };
    await expect(
      worker.createContainer({
        handle: 'foreign',
        env: {},
        mounts: [{ volume: foreign, path: 'x' }],
        metadata: taskMetadata,
      }),
    ).rejects.toThrow(/not on worker local-test/);
    // Failed creations leave nothing behind.
    expect(await readdir(path.join(workDir, 'containers'))).toEqual([]);
    expect(await worker.lookupContainer('nested')).toBeUndefined();
    await outer.destroy();
    await inner.destroy();
  });

  it('mounts outputs inside a copied input, hiding what it had there and never following its symlinks', async () => {
    const outside = await temporaryWorkDir();
    // A step may leave any symlink in its output (only uploads are checked); that output is the input here.
    const input = await worker.createVolume({ handle: 'nest-input', owner: buildOwner, teamName: 'main' });
    await input.streamIn(
      '.',
      makeTar([
        { name: 'a.txt', content: 'a\n' },
        { name: 'dist/stale.txt', content: 'stale\n' },
        { name: 'locked', type: 'directory', mode: 0o555 },
        { name: 'locked/old', content: 'old\n' },
      ]),
    );
    const maker = await worker.createContainer({
      handle: 'nest-maker',
      env: {},
      mounts: [{ volume: input, path: 'repo' }],
      metadata: taskMetadata,
    });
    expect(await (await maker.run({ path: 'ln', args: ['-s', outside, 'repo/escape'] }, {})).wait()).toBe(0);
    await maker.destroy();

    const [dist, escaped, locked] = await Promise.all(
      ['nest-dist', 'nest-escaped', 'nest-locked'].map((handle) =>
        worker.createVolume({ handle, owner: buildOwner, teamName: 'main' }),
      ),
    );
    const container = await worker.createContainer({
      handle: 'nested-in-copy',
      env: {},
      mounts: [
        { volume: input, path: 'repo', readOnly: true },
        { volume: dist!, path: 'repo/dist' },
        { volume: escaped!, path: 'repo/escape/out' },
        { volume: locked!, path: 'repo/locked/old' },
      ],
      metadata: taskMetadata,
    });
    const stdout = new Collector();
    const script =
      'ls repo/dist; echo built > repo/dist/app && echo x > repo/escape/out/x && echo y > repo/locked/old/y && cat repo/a.txt';
    expect(await (await container.run({ path: 'sh', args: ['-c', script] }, { stdout })).wait()).toBe(0);
    expect(stdout.text()).toBe('a\n'); // the output starts empty: the copy's dist/ is hidden
    await container.destroy();

    expect(await readdir(outside)).toEqual([]);
    expect(
      Object.fromEntries(
        [...(await readTar(await dist!.streamOut('.')))].map(([k, v]) => [k, v.content.toString()]),
      ),
    ).toEqual({ app: 'built\n' });
    expect((await readTar(await escaped!.streamOut('.'))).get('x')?.content.toString()).toBe('x\n');
    expect((await readTar(await locked!.streamOut('.'))).get('y')?.content.toString()).toBe('y\n');
    const kept = await readTar(await input.streamOut('.'));
    expect(kept.get('dist/stale.txt')?.content.toString()).toBe('stale\n');
    expect(kept.get('locked/old')?.content.toString()).toBe('old\n');
    expect(kept.get('escape')?.type).toBe('symlink');
    for (const volume of [input, dist!, escaped!, locked!]) await volume.destroy();
    await rm(outside, { recursive: true, force: true });
  });

  it('says once that images are ignored', async () => {
    for (const handle of ['image-1', 'image-2']) {
      const container = await worker.createContainer({
        handle,
        image: { kind: 'registry', repository: 'busybox', tag: 'latest' },
        env: {},
        mounts: [],
        metadata: taskMetadata,
      });
      await container.destroy();
    }
    const notices = logged.filter((entry) => entry.msg.includes('images are ignored'));
    expect(notices).toHaveLength(1);
    expect(notices[0]?.obj).toMatchObject({ image: 'busybox:latest' });
  });

  it('refuses unsafe handles', async () => {
    for (const handle of ['../escape', 'a/b', '.hidden', '']) {
      await expect(
        worker.createVolume({ handle, owner: buildOwner, teamName: 'main' }),
      ).rejects.toBeInstanceOf(RuntimeError);
      await expect(
        worker.createContainer({ handle, env: {}, mounts: [], metadata: taskMetadata }),
      ).rejects.toBeInstanceOf(RuntimeError);
    }
  });

  describe('tar extraction', () => {
    it.each([
      ['an absolute name', [{ name: '/etc/evil', content: 'x' }]],
      ['a name with ..', [{ name: 'a/../../evil', content: 'x' }]],
      ['an absolute symlink', [{ name: 'link', type: 'symlink' as const, linkname: '/etc' }]],
      ['a symlink climbing out', [{ name: 'a/link', type: 'symlink' as const, linkname: '../../..' }]],
      ['a symlink with .. after a name', [{ name: 'link', type: 'symlink' as const, linkname: 'a/../..' }]],
      [
        'a write through a symlink',
        [
          { name: 'dir', type: 'directory' as const },
          { name: 'link', type: 'symlink' as const, linkname: 'dir' },
          { name: 'link/file', content: 'x' },
        ],
      ],
    ])('rejects %s with a 400 of the artifact-store and writes nothing outside', async (_what, entries) => {
      const volume = await worker.createVolume({ owner: buildOwner, teamName: 'main' });
      const failure = await volume.streamIn('sub', makeTar(entries)).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ArtifactStoreError);
      expect(failure).toMatchObject({ httpStatus: 400 });
      const volumesDir = path.join(workDir, 'volumes');
      expect((await readdir(volumesDir)).sort()).toEqual(['data', 'meta', 'trash']);
      const [info] = (await worker.listVolumes()).filter((listed) => listed.handle === volume.handle);
      expect(info?.path).toBe(path.join(volumesDir, 'data', volume.handle));
      expect(await readdir(info?.path ?? '')).toEqual(['sub']);
      await volume.destroy();
    });

    it('rejects a hard link to a file outside the tar', async () => {
      const volume = await worker.createVolume({ owner: buildOwner, teamName: 'main' });
      const escaping = makeTar([{ name: 'passwd', type: 'link', linkname: '../../../../../../etc/passwd' }]);
      await expect(volume.streamIn('.', escaping)).rejects.toMatchObject({ httpStatus: 400 });
      await volume.destroy();
    });

    it('streams out a missing path as FileNotFoundError, and a destroyed volume as RuntimeError', async () => {
      const volume = await worker.createVolume({ owner: buildOwner, teamName: 'main' });
      await volume.streamIn('.', makeTar([{ name: 'file.txt', content: 'x' }]));
      await expect(volume.streamOut('file.txt/below')).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(volume.streamOut('missing')).rejects.toBeInstanceOf(FileNotFoundError);
      // A leading slash names the volume's root.
      expect([...(await readTar(await volume.streamOut('/'))).keys()]).toEqual(['file.txt']);
      await volume.destroy();
      await expect(volume.streamOut('.')).rejects.toBeInstanceOf(RuntimeError);
      await expect(volume.streamIn('.', makeTar([]))).rejects.toBeInstanceOf(RuntimeError);
    });

    it('keeps symlinks within the volume, hard links to earlier entries, and removes read-only trees', async () => {
      const volume = await worker.createVolume({ owner: buildOwner, teamName: 'main' });
      await volume.streamIn(
        '.',
        makeTar([
          { name: 'lib/real.txt', content: 'real\n' },
          { name: 'lib/hard.txt', type: 'link', linkname: 'lib/real.txt' },
          { name: 'bin/up', type: 'symlink', linkname: '../lib/real.txt' },
          { name: 'readonly', type: 'directory', mode: 0o555 },
          { name: 'readonly/inside.txt', content: 'inside\n', mode: 0o444 },
        ]),
      );

      const dataDir = path.join(workDir, 'volumes', 'data', volume.handle);
      expect(await readFile(path.join(dataDir, 'bin', 'up'), 'utf8')).toBe('real\n');
      expect((await lstat(path.join(dataDir, 'lib', 'hard.txt'))).ino).toBe(
        (await lstat(path.join(dataDir, 'lib', 'real.txt'))).ino,
      );
      // The artifact-store keeps directories owner-writable (so later steps can add to them), files as given.
      expect((await lstat(path.join(dataDir, 'readonly'))).mode & 0o777).toBe(0o755);
      expect((await lstat(path.join(dataDir, 'readonly', 'inside.txt'))).mode & 0o777).toBe(0o444);
      const out = await readTar(await volume.streamOut('.'));
      expect(out.get('readonly/inside.txt')?.content.toString()).toBe('inside\n');
      // A tree a step made read-only (Go's module cache does) is still removable.
      await chmod(path.join(dataDir, 'readonly'), 0o555);
      await volume.destroy();
      expect(await worker.lookupVolume(volume.handle)).toBeUndefined();
    });
  });

  it('keeps volumes across a restart and forgets containers', async () => {
    const restartDir = await temporaryWorkDir();
    const first = await LocalWorker.create({ workDir: restartDir, name: 'restart' });
    const volume = await first.createVolume({
      handle: 'kept',
      owner: { kind: 'step', buildId: 9, stepName: 'build' },
      teamName: 'team-a',
      type: 'task-cache',
    });
    await volume.streamIn('.', makeTar([{ name: 'cache/file.bin', content: Buffer.from([0, 1, 2, 255]) }]));
    const container = await first.createContainer({
      handle: 'forgotten',
      env: {},
      mounts: [{ volume, path: 'cache' }],
      metadata: taskMetadata,
    });
    const sleeper = await container.run({ path: 'sleep', args: ['300'] }, {});
    await first.close();
    expect(await sleeper.wait()).toBe(137);

    // A crash leaves container directories, half-removed and half-created volumes behind; the next start
    // tidies up.
    await writeFile(path.join(restartDir, 'containers', 'crashed'), '');
    await mkdir(path.join(restartDir, 'volumes', 'trash', 'half-removed', 'data'), { recursive: true });
    await mkdir(path.join(restartDir, 'volumes', 'data', 'half-created'));
    // Constructed directly (as the server does): every call waits for the directory to be opened.
    const second = new LocalWorker({ workDir: restartDir, name: 'restart' });
    try {
      expect(await second.listVolumes()).toEqual([
        {
          handle: 'kept',
          workerName: 'restart',
          type: 'task-cache',
          teamName: 'team-a',
          owner: { kind: 'step', buildId: 9, stepName: 'build' },
          path: path.join(restartDir, 'volumes', 'data', 'kept'),
        },
      ]);
      const kept = await second.lookupVolume('kept');
      expect(kept).toBeDefined();
      const content = await readTar(await (kept as NonNullable<typeof kept>).streamOut('cache/file.bin'));
      expect(content.get('file.bin')?.content).toEqual(Buffer.from([0, 1, 2, 255]));
      expect(await second.listContainers()).toEqual([]);
      expect(await readdir(path.join(restartDir, 'containers'))).toEqual([]);
      expect(await readdir(path.join(restartDir, 'volumes', 'trash'))).toEqual([]);
      expect(await readdir(path.join(restartDir, 'volumes', 'data'))).toEqual(['kept']);
      expect(second.info()).toMatchObject({ name: 'restart', activeVolumes: 1, activeContainers: 0 });
    } finally {
      await second.close();
      await rm(restartDir, { recursive: true, force: true });
    }
  });

  it('shares a given artifact store: its artifacts are volumes, volumes are registered artifacts', async () => {
    const sharedDir = await temporaryWorkDir();
    const registry = new InMemoryArtifactRegistry();
    const store = new ArtifactStore({ root: path.join(sharedDir, 'artifacts'), registry });
    const shared = await LocalWorker.create({
      workDir: path.join(sharedDir, 'worker'),
      artifactStore: store,
    });
    try {
      const upload = await store.allocateFromTar(
        { owner: { kind: 'upload', teamName: 'main' }, teamName: 'main' },
        makeTar([{ name: 'src/main.go', content: 'package main\n' }]),
      );
      const input = await shared.lookupVolume(upload.handle);
      expect(input).toBeDefined();
      // info() is synchronous: it counts what others added to the store by the next call.
      await eventually(() => shared.info().activeVolumes === 1, 5_000, 'the upload to be counted');
      const output = await shared.createVolume({
        handle: 'shared-output',
        owner: { kind: 'step', buildId: 3, stepName: 'compile' },
        teamName: 'main',
        type: 'container',
      });
      expect(await store.get('shared-output')).toMatchObject({
        owner: { kind: 'step', buildId: 3, stepName: 'compile' },
        teamName: 'main',
        type: 'container',
        path: path.join(sharedDir, 'artifacts', 'data', 'shared-output'),
      });
      expect(registry.handles()).toEqual([upload.handle, 'shared-output'].sort());

      const container = await shared.createContainer({
        handle: 'shared',
        env: {},
        mounts: [
          { volume: input as NonNullable<typeof input>, path: 'in', readOnly: true },
          { volume: output, path: 'out' },
        ],
        metadata: taskMetadata,
      });
      const copy = await container.run({ path: 'cp', args: ['in/src/main.go', 'out/main.go'] }, {});
      expect(await copy.wait()).toBe(0);
      await container.destroy();
      expect(
        await readFile(path.join(sharedDir, 'artifacts', 'data', 'shared-output', 'main.go'), 'utf8'),
      ).toBe('package main\n');

      // Whoever removes an artifact, it is gone as a volume too.
      await store.remove(upload.handle);
      expect(await shared.lookupVolume(upload.handle)).toBeUndefined();
      expect((await shared.listVolumes()).map((info) => info.handle)).toEqual(['shared-output']);
      await output.destroy();
      expect(await store.lookup('shared-output')).toBeUndefined();
      expect(registry.handles()).toEqual([]);
      expect(shared.info().activeVolumes).toBe(0);
      expect(await readdir(path.join(sharedDir, 'worker'))).toEqual(['containers']);
    } finally {
      await shared.close();
      await rm(sharedDir, { recursive: true, force: true });
    }
  });

  it('reports a work directory it cannot open on the first call', async () => {
    const notADirectory = path.join(await temporaryWorkDir(), 'file');
    await writeFile(notADirectory, '');
    const broken = new LocalWorker({ workDir: notADirectory });
    await expect(broken.listVolumes()).rejects.toThrow(/ENOTDIR|EEXIST/);
    await expect(LocalWorker.create({ workDir: notADirectory })).rejects.toThrow();
    await broken.close();
    await rm(path.dirname(notADirectory), { recursive: true, force: true });
  });

  it('refuses new work once closed', async () => {
    const closingDir = await temporaryWorkDir();
    const closing = await LocalWorker.create({ workDir: closingDir });
    await closing.close();
    await expect(
      closing.createContainer({ handle: 'late', env: {}, mounts: [], metadata: taskMetadata }),
    ).rejects.toBeInstanceOf(RuntimeError);
    await expect(closing.createVolume({ owner: buildOwner, teamName: 'main' })).rejects.toBeInstanceOf(
      RuntimeError,
    );
    await rm(closingDir, { recursive: true, force: true });
  });
});
