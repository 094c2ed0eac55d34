// The behaviour every Worker implementation must show, as jest tests a runtime runs against itself:
//
//   describeWorkerConformance('local', async () => {
//     const worker = await LocalWorker.create({ workDir });
//     return { worker, cleanup: () => rm(workDir, { recursive: true, force: true }) };
//   });
//
// Processes only use `sh` builtins, `cat`, `sleep` and `ls`, so the same suite runs in any image that has a
// POSIX shell (a Kubernetes runtime runs it in a busybox pod).
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import tarStream from 'tar-stream';
import { ExecutableNotFoundError, FileNotFoundError, RuntimeError } from './errors.js';
import type {
  Container,
  ContainerMetadata,
  ContainerSpec,
  Process,
  ProcessIO,
  ProcessSpec,
  Volume,
  VolumeSpec,
  Worker,
} from './worker.js';

export interface ConformanceOptions {
  /** The shell the processes run with; `/bin/sh` unless told. */
  shell?: string;
  /**
   * What a process gets at a read-only (input) mount — see `Mount.readOnly`: its own copy (the contract,
   * the default), the volume mounted truly read-only (writes fail), or the volume itself (an opt-in that
   * lets a process change the artifact; the isolation tests are skipped).
   */
  inputs?: 'copy-on-write' | 'read-only' | 'shared';
}

export type MakeWorker = () => Promise<{ worker: Worker; cleanup(): Promise<void> }>;

/** How long a killed or destroyed process may take to be gone ("promptly"). */
const PROMPT_MS = 10_000;

export function describeWorkerConformance(
  name: string,
  makeWorker: MakeWorker,
  options: ConformanceOptions = {},
): void {
  const shell = options.shell ?? '/bin/sh';
  const inputs = options.inputs ?? 'copy-on-write';
  const itIsolatesInputs = inputs === 'shared' ? it.skip : it;

  describe(`Worker conformance: ${name}`, () => {
    let worker: Worker;
    let cleanup: () => Promise<void> = async () => {};
    const containers: Container[] = [];
    const volumes: Volume[] = [];

    beforeAll(async () => {
      ({ worker, cleanup } = await makeWorker());
    });
    afterEach(async () => {
      await Promise.allSettled(containers.splice(0).map((container) => container.destroy()));
      await Promise.allSettled(volumes.splice(0).map((volume) => volume.destroy()));
    });
    afterAll(async () => {
      await cleanup();
    });

    async function newVolume(spec: Partial<VolumeSpec> = {}): Promise<Volume> {
      const volume = await worker.createVolume({
        handle: uniqueHandle('vol'),
        owner: { kind: 'build', buildId: 1 },
        teamName: 'main',
        type: 'artifact',
        ...spec,
      });
      volumes.push(volume);
      return volume;
    }

    async function volumeWith(entries: TarEntrySpec[]): Promise<Volume> {
      const volume = await newVolume();
      await volume.streamIn('.', makeTar(entries));
      return volume;
    }

    async function newContainer(spec: Partial<ContainerSpec> = {}): Promise<Container> {
      const container = await worker.createContainer({
        handle: uniqueHandle('ctr'),
        env: {},
        mounts: [],
        metadata: { type: 'task', teamName: 'main', stepName: 'conformance' },
        ...spec,
      });
      containers.push(container);
      return container;
    }

    /** Run `script` with the shell and collect everything it prints. */
    async function runScript(
      container: Container,
      script: string,
      spec: Partial<ProcessSpec> = {},
      stdin?: Readable,
    ): Promise<{ status: number; stdout: string; stderr: string }> {
      const stdout = new Collector();
      const stderr = new Collector();
      const io: ProcessIO = { stdout, stderr, ...(stdin ? { stdin } : {}) };
      const proc = await container.run({ path: shell, args: ['-c', script], ...spec }, io);
      const status = await within(proc.wait(), 30_000, `script to finish: ${script}`);
      return { status, stdout: stdout.text(), stderr: stderr.text() };
    }

    /** Whether `pid` still runs in the container (a zombie counts as gone: only its parent can reap it). */
    async function isRunningInContainer(container: Container, pid: number): Promise<boolean> {
      const probe = [
        `p=${pid}`,
        'if kill -0 "$p" 2>/dev/null; then',
        '  state=',
        '  if [ -r "/proc/$p/status" ]; then',
        '    while read -r key value; do if [ "$key" = "State:" ]; then state=$value; fi; done < "/proc/$p/status"',
        '  fi',
        '  case "$state" in Z*) echo gone ;; *) echo alive ;; esac',
        'else echo gone; fi',
      ].join('\n');
      const { stdout } = await runScript(container, probe);
      return stdout.trim() === 'alive';
    }

    it('describes itself', () => {
      const info = worker.info();
      expect(info.name).toBe(worker.name);
      expect(info.platform).toEqual(expect.any(String));
      expect(info.platform).not.toBe('');
      expect(info.startTime).toBeGreaterThan(0);
    });

    describe('volumes', () => {
      it('streams a tar in and out byte for byte, keeping modes and symlinks', async () => {
        const blob = randomBytes(300_001); // larger than any stream buffer, and an odd size
        const entries: TarEntrySpec[] = [
          { name: 'bin', type: 'directory', mode: 0o755 },
          { name: 'bin/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
          { name: 'data/blob.bin', content: blob, mode: 0o640 },
          { name: 'empty.txt', content: '', mode: 0o600 },
          {
            name: 'every-byte.bin',
            content: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
            mode: 0o644,
          },
          { name: 'link', type: 'symlink', linkname: 'bin/run.sh' },
        ];
        const volume = await volumeWith(entries);

        const out = await readTar(await volume.streamOut('.'));
        expect([...out.keys()].sort()).toEqual([
          'bin',
          'bin/run.sh',
          'data',
          'data/blob.bin',
          'empty.txt',
          'every-byte.bin',
          'link',
        ]);
        for (const entry of entries) {
          const got = out.get(entry.name);
          expect(got?.type).toBe(entry.type ?? 'file');
          if (entry.mode !== undefined) expect((got?.mode ?? 0) & 0o777).toBe(entry.mode);
          if (entry.type === undefined)
            expect(got?.content.equals(Buffer.from(entry.content ?? ''))).toBe(true);
        }
        expect(out.get('link')?.linkname).toBe('bin/run.sh');
        expect(out.get('data')?.type).toBe('directory');
      });

      it('streams into and out of a path inside the volume', async () => {
        const volume = await newVolume();
        await volume.streamIn('sub/dir', makeTar([{ name: 'a.txt', content: 'a\n', mode: 0o644 }]));

        const sub = await readTar(await volume.streamOut('sub'));
        expect([...sub.keys()].sort()).toEqual(['dir', 'dir/a.txt']);

        // A file comes out as a one-entry tar under its base name: how a task `file:` is read.
        const single = await readTar(await volume.streamOut('sub/dir/a.txt'));
        expect([...single.keys()]).toEqual(['a.txt']);
        expect(single.get('a.txt')?.content.toString()).toBe('a\n');
      });

      it('rejects streamOut of a missing path with FileNotFoundError', async () => {
        const volume = await newVolume();
        await expect(volume.streamOut('no/such/file')).rejects.toBeInstanceOf(FileNotFoundError);
      });

      it('never lets a tar write outside the path it is streamed into', async () => {
        const volume = await newVolume();
        const evil: TarEntrySpec[][] = [
          [{ name: '../escape-dotdot.txt', content: 'x' }],
          [{ name: '/escape-absolute.txt', content: 'x' }],
          [
            { name: 'up', type: 'symlink', linkname: '..' },
            { name: 'up/escape-symlink.txt', content: 'x' },
          ],
        ];
        for (const entries of evil) {
          // A runtime may reject the tar, drop the entry or strip the name (GNU tar's way); either way
          // nothing may land outside `sub`.
          await volume.streamIn('sub', makeTar(entries)).catch(() => undefined);
        }
        const names = [...(await readTar(await volume.streamOut('.'))).keys()];
        expect(names.filter((entryName) => entryName !== 'sub' && !entryName.startsWith('sub/'))).toEqual([]);
      });

      it('looks volumes up, lists them, and destroys them idempotently', async () => {
        const handle = uniqueHandle('vol');
        const volume = await newVolume({
          handle,
          owner: { kind: 'step', buildId: 7, stepName: 'unit' },
          type: 'task-cache',
        });
        expect(volume.handle).toBe(handle);
        expect((await worker.lookupVolume(handle))?.handle).toBe(handle);

        const listed = (await worker.listVolumes()).find((info) => info.handle === handle);
        expect(listed).toMatchObject({
          handle,
          workerName: worker.name,
          type: 'task-cache',
          teamName: 'main',
          owner: { kind: 'step', buildId: 7, stepName: 'unit' },
        });
        expect(listed?.path).toEqual(expect.any(String));

        await volume.destroy();
        await volume.destroy();
        expect(await worker.lookupVolume(handle)).toBeUndefined();
        expect((await worker.listVolumes()).map((info) => info.handle)).not.toContain(handle);
      });

      it('generates a handle when none is given, and refuses one already in use', async () => {
        const generated = await newVolume({ handle: undefined });
        expect(generated.handle).toMatch(/\S/);
        await expect(newVolume({ handle: generated.handle })).rejects.toBeInstanceOf(RuntimeError);
      });

      it('answers undefined for a volume that never existed', async () => {
        expect(await worker.lookupVolume(uniqueHandle('never'))).toBeUndefined();
      });
    });

    describe('containers', () => {
      it('mounts inputs read-only at their relative paths and outputs writable into their volume', async () => {
        const input = await volumeWith([
          { name: 'hello.txt', content: 'hello from input\n' },
          { name: 'nested/deep.txt', content: 'deep\n' },
        ]);
        const output = await newVolume();
        const container = await newContainer({
          mounts: [
            { volume: input, path: 'inputs/src', readOnly: true },
            { volume: output, path: 'out' },
          ],
        });

        const result = await runScript(
          container,
          'cat inputs/src/hello.txt inputs/src/nested/deep.txt && echo built > out/result.txt && mkdir out/sub && echo y > out/sub/y.txt',
        );
        expect(result).toEqual({ status: 0, stdout: 'hello from input\ndeep\n', stderr: '' });

        await container.destroy();
        const produced = await readTar(await output.streamOut('.'));
        expect(produced.get('result.txt')?.content.toString()).toBe('built\n');
        expect(produced.get('sub/y.txt')?.content.toString()).toBe('y\n');
        // The input survives the container untouched.
        const kept = await readTar(await input.streamOut('.'));
        expect([...kept.keys()].sort()).toEqual(['hello.txt', 'nested', 'nested/deep.txt']);
      });

      itIsolatesInputs('lets a process change its inputs without changing their volumes', async () => {
        const input = await volumeWith([
          { name: 'keep.txt', content: 'original\n' },
          { name: 'gone.txt', content: 'removed by the step\n' },
          { name: 'dir/deep.txt', content: 'deep\n' },
        ]);
        const first = await newContainer({ mounts: [{ volume: input, path: 'repo', readOnly: true }] });
        const change = [
          'echo changed > repo/keep.txt',
          'rm -f repo/gone.txt',
          'echo new > repo/new.txt',
          'echo deeper >> repo/dir/deep.txt',
        ].join(' && ');
        const changed = await runScript(first, `${change} && cat repo/keep.txt repo/new.txt`);
        if (inputs === 'copy-on-write') {
          // The process sees its own changes, as a task does in its copy-on-write inputs.
          expect(changed).toEqual({ status: 0, stdout: 'changed\nnew\n', stderr: '' });
        } else {
          expect(changed.status).not.toBe(0);
        }
        await first.destroy();

        // The artifact is as it was, for streaming out and for the next step that mounts it.
        const kept = await readTar(await input.streamOut('.'));
        expect([...kept.keys()].sort()).toEqual(['dir', 'dir/deep.txt', 'gone.txt', 'keep.txt']);
        expect(kept.get('keep.txt')?.content.toString()).toBe('original\n');
        expect(kept.get('dir/deep.txt')?.content.toString()).toBe('deep\n');
        const next = await newContainer({ mounts: [{ volume: input, path: 'repo', readOnly: true }] });
        expect(await runScript(next, 'cat repo/keep.txt repo/gone.txt repo/dir/deep.txt; ls repo')).toEqual({
          status: 0,
          stdout: 'original\nremoved by the step\ndeep\ndir\ngone.txt\nkeep.txt\n',
          stderr: '',
        });
      });

      it("carries a process's changes in an output started from an input's content, leaving the input", async () => {
        // The engine's pass-through output (an output at an input's path, Concourse's reused COW volume): a
        // new volume filled from the input's stream, mounted writable where the input would be.
        const input = await volumeWith([
          { name: 'a.txt', content: 'from input\n' },
          { name: 'sub/b.txt', content: 'b\n' },
        ]);
        const output = await newVolume({ type: 'container' });
        const source = await input.streamOut('.');
        try {
          await output.streamIn('.', source);
        } finally {
          source.destroy();
        }
        const task = await newContainer({ mounts: [{ volume: output, path: 'repo' }] });
        expect(
          await runScript(task, 'echo changed > repo/a.txt && rm repo/sub/b.txt && echo added > repo/c.txt'),
        ).toEqual({ status: 0, stdout: '', stderr: '' });
        await task.destroy();

        const carried = await readTar(await output.streamOut('.'));
        expect([...carried.keys()].sort()).toEqual(['a.txt', 'c.txt', 'sub']);
        expect(carried.get('a.txt')?.content.toString()).toBe('changed\n');
        expect(carried.get('c.txt')?.content.toString()).toBe('added\n');
        const original = await readTar(await input.streamOut('.'));
        expect([...original.keys()].sort()).toEqual(['a.txt', 'sub', 'sub/b.txt']);
        expect(original.get('a.txt')?.content.toString()).toBe('from input\n');

        // A later step mounting both sees each as it is.
        const later = await newContainer({
          mounts: [
            { volume: input, path: 'original', readOnly: true },
            { volume: output, path: 'changed', readOnly: true },
          ],
        });
        expect(await runScript(later, 'cat original/a.txt changed/a.txt original/sub/b.txt')).toEqual({
          status: 0,
          stdout: 'from input\nchanged\nb\n',
          stderr: '',
        });
      });

      it('gives processes the container env, the process env over it, and the process dir', async () => {
        const input = await volumeWith([{ name: 'hello.txt', content: 'hi\n' }]);
        const container = await newContainer({
          env: { JB_FROM_CONTAINER: 'container', JB_OVERRIDDEN: 'container' },
          mounts: [{ volume: input, path: 'src', readOnly: true }],
        });
        const result = await runScript(
          container,
          'echo "$JB_FROM_CONTAINER $JB_OVERRIDDEN"; cat hello.txt; case "$(pwd)" in */src) echo in-src ;; esac',
          { env: { JB_OVERRIDDEN: 'process' }, dir: 'src' },
        );
        expect(result).toEqual({ status: 0, stdout: 'container process\nhi\nin-src\n', stderr: '' });
      });

      it('keeps stdout and stderr apart', async () => {
        const container = await newContainer();
        const result = await runScript(container, 'echo to-out; echo to-err >&2; echo more-out');
        expect(result).toEqual({ status: 0, stdout: 'to-out\nmore-out\n', stderr: 'to-err\n' });
      });

      it('delivers all of a binary output byte for byte, even when the process exits at once', async () => {
        const blob = randomBytes(500_003);
        const input = await volumeWith([{ name: 'blob.bin', content: blob }]);
        const container = await newContainer({ mounts: [{ volume: input, path: 'in', readOnly: true }] });
        const stdout = new Collector();
        const proc = await container.run({ path: shell, args: ['-c', 'cat in/blob.bin'] }, { stdout });
        expect(await within(proc.wait(), 30_000, 'cat to finish')).toBe(0);
        expect(stdout.bytes().equals(blob)).toBe(true);
      });

      it('reports zero and non-zero exit statuses', async () => {
        const container = await newContainer();
        expect((await runScript(container, 'exit 0')).status).toBe(0);
        expect((await runScript(container, 'exit 3')).status).toBe(3);
      });

      it('pipes stdin to the process and delivers end of file', async () => {
        const container = await newContainer();
        const stdin = Readable.from([Buffer.from('line one\n'), Buffer.from('line two\n')]);
        expect(await runScript(container, 'cat', {}, stdin)).toEqual({
          status: 0,
          stdout: 'line one\nline two\n',
          stderr: '',
        });
        // Without stdin a process reads end of file at once instead of hanging.
        expect((await runScript(container, 'cat')).status).toBe(0);
      });

      it('rejects a missing executable with ExecutableNotFoundError', async () => {
        const container = await newContainer();
        await expect(
          container.run({ path: 'jetbridge-no-such-executable', args: [] }, {}),
        ).rejects.toBeInstanceOf(ExecutableNotFoundError);
        await expect(
          container.run({ path: '/jetbridge/no/such/executable', args: [] }, {}),
        ).rejects.toBeInstanceOf(ExecutableNotFoundError);
      });

      it('kill ends a long-running process promptly and leaves none of its children behind', async () => {
        const container = await newContainer();
        const stdout = new Collector();
        const proc = await container.run(
          { path: shell, args: ['-c', 'sleep 300 & echo $!; wait'] },
          { stdout },
        );
        await until(() => /^\d+\n/.test(stdout.text()), PROMPT_MS, 'the child pid to be printed');
        const childPid = Number(stdout.text().trim());

        await proc.signal('kill');
        const status = await within(proc.wait(), PROMPT_MS, 'the killed process to end');
        expect(status).not.toBe(0);
        await untilAsync(
          async () => !(await isRunningInContainer(container, childPid)),
          PROMPT_MS,
          'the child to be gone',
        );
        await proc.signal('kill'); // signalling a finished process is harmless
      });

      it('terminate ends a process that does not handle it', async () => {
        const container = await newContainer();
        const proc = await container.run({ path: shell, args: ['-c', 'sleep 300'] }, {});
        await proc.signal('terminate');
        expect(await within(proc.wait(), PROMPT_MS, 'the terminated process to end')).not.toBe(0);
      });

      it('attaches to a running process: further output and the exit status', async () => {
        const container = await newContainer();
        const id = `p-${randomUUID()}`;
        const stdin = new PassThrough();
        const first = new Collector();
        await container.run(
          { id, path: shell, args: ['-c', 'echo ready; read line; echo "got $line"; exit 7'] },
          { stdin, stdout: first },
        );
        await until(() => first.text().includes('ready'), PROMPT_MS, 'the process to start');

        const attachedOut = new Collector();
        const attached = await container.attach(id, { stdout: attachedOut });
        expect(attached.id).toBe(id);
        stdin.end('go\n');
        expect(await within(attached.wait(), PROMPT_MS, 'the attached process to end')).toBe(7);
        expect(attachedOut.text()).toContain('got go');
      });

      it('attaches to a process that just finished: its exit status', async () => {
        const container = await newContainer();
        const id = `p-${randomUUID()}`;
        const proc = await container.run({ id, path: shell, args: ['-c', 'exit 5'] }, {});
        expect(await proc.wait()).toBe(5);
        const attached = await container.attach(id, {});
        expect(await within(attached.wait(), PROMPT_MS, 'the attached status')).toBe(5);
      });

      it('rejects attaching to an unknown process with RuntimeError', async () => {
        const container = await newContainer();
        await expect(container.attach('jetbridge-no-such-process', {})).rejects.toBeInstanceOf(RuntimeError);
      });

      it('destroy kills running processes and forgets the container; destroy is idempotent', async () => {
        const container = await newContainer();
        const proc = await container.run({ path: shell, args: ['-c', 'sleep 300'] }, {});
        await container.destroy();
        await within(settled(proc.wait()), PROMPT_MS, 'the process of a destroyed container to end');
        expect(await worker.lookupContainer(container.handle)).toBeUndefined();
        expect((await worker.listContainers()).map((info) => info.handle)).not.toContain(container.handle);
        await container.destroy();
        await expect(container.run({ path: shell, args: ['-c', 'true'] }, {})).rejects.toBeInstanceOf(
          RuntimeError,
        );
      });

      it('lists containers with their metadata, and looks them up', async () => {
        const metadata: ContainerMetadata = {
          type: 'task',
          teamName: 'main',
          stepName: 'unit',
          attempt: '1',
          buildId: 42,
          buildName: '3',
          pipelineId: 5,
          pipelineName: 'pipe',
          pipelineInstanceVars: { branch: 'main' },
          jobId: 6,
          jobName: 'test',
          user: 'root',
          workingDirectory: '/tmp/build/1234abcd',
        };
        const container = await newContainer({ metadata });
        const listed = (await worker.listContainers()).find((info) => info.handle === container.handle);
        expect(listed).toEqual({
          handle: container.handle,
          workerName: worker.name,
          state: 'created',
          metadata,
        });

        const found = await worker.lookupContainer(container.handle);
        expect(found?.handle).toBe(container.handle);
        expect(found?.metadata).toEqual(metadata);
        expect(worker.info().activeContainers).toBeGreaterThanOrEqual(1);
      });

      it('refuses a container handle already in use', async () => {
        const container = await newContainer();
        await expect(newContainer({ handle: container.handle })).rejects.toBeInstanceOf(RuntimeError);
      });

      it('answers undefined for a container that never existed', async () => {
        expect(await worker.lookupContainer(uniqueHandle('never'))).toBeUndefined();
      });

      it('runs a process asked for a tty', async () => {
        const container = await newContainer();
        const stdout = new Collector();
        const proc = await container.run(
          { path: shell, args: ['-c', 'echo hi'], tty: { rows: 24, columns: 80 } },
          { stdout },
        );
        await proc.resize({ rows: 40, columns: 120 });
        expect(await within(proc.wait(), 30_000, 'the tty process to end')).toBe(0);
        expect(stdout.text()).toContain('hi');
      });
    });

    it('close() stops every process', async () => {
      const own = await makeWorker();
      try {
        const container = await own.worker.createContainer({
          handle: uniqueHandle('ctr'),
          env: {},
          mounts: [],
          metadata: { type: 'task', teamName: 'main' },
        });
        const proc: Process = await container.run({ path: shell, args: ['-c', 'sleep 300'] }, {});
        await own.worker.close();
        await within(settled(proc.wait()), PROMPT_MS, 'processes to end on close');
      } finally {
        await own.cleanup();
      }
    });
  });
}

// ---- tar helpers (exported: runtimes reuse them in their own tests) ----

export interface TarEntrySpec {
  name: string;
  /** `file` unless told; `link` is a hard link to the earlier entry named by `linkname`. */
  type?: 'directory' | 'symlink' | 'link';
  content?: Buffer | string;
  mode?: number;
  linkname?: string;
}

export interface TarEntryRead {
  type: string;
  mode: number;
  content: Buffer;
  linkname?: string;
}

/** An uncompressed tar of `entries`, in order. */
export function makeTar(entries: TarEntrySpec[]): Readable {
  const pack = tarStream.pack();
  for (const entry of entries) {
    if (entry.type === 'directory') {
      pack.entry({ name: entry.name, type: 'directory', mode: entry.mode ?? 0o755 });
    } else if (entry.type === 'symlink' || entry.type === 'link') {
      pack.entry({ name: entry.name, type: entry.type, linkname: entry.linkname ?? '' });
    } else {
      pack.entry(
        { name: entry.name, type: 'file', mode: entry.mode ?? 0o644 },
        Buffer.from(entry.content ?? ''),
      );
    }
  }
  pack.finalize();
  return Readable.from(pack, { objectMode: false });
}

/** Every entry of a tar by name, with `./` prefixes and trailing slashes removed (the root itself omitted). */
export async function readTar(tar: Readable): Promise<Map<string, TarEntryRead>> {
  const extract = tarStream.extract();
  tar.on('error', (err) => extract.destroy(err));
  tar.pipe(extract);
  const entries = new Map<string, TarEntryRead>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (name === '' || name === '.') continue;
    entries.set(name, {
      type: entry.header.type ?? 'file',
      mode: entry.header.mode ?? 0,
      content: Buffer.concat(chunks),
      ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
    });
  }
  return entries;
}

// ---- small test helpers ----

function uniqueHandle(kind: string): string {
  return `conf-${kind}-${randomUUID()}`;
}

/** Collects what a process prints; never ended by the runtime, so read it after `wait()`. */
class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

/** `promise`, or a failure naming what did not happen within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `promise` settles either way (a destroyed container may reject its processes' wait()). */
async function settled(promise: Promise<unknown>): Promise<void> {
  await promise.then(
    () => undefined,
    () => undefined,
  );
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  await untilAsync(async () => condition(), ms, what);
}

async function untilAsync(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
