// Faults specific to stream mode (artifacts moved through execs): dropped transfers, steps that go away
// or restart around a collection, and archives the web must refuse. The mode-independent faults (dropped
// process streams, eviction, scheduling, image pulls, watches) are in k8s-worker-faults.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';
import type { Container, ContainerSpec, Volume } from '@jetbridge/runtime';
import { makeTar, readTar } from '@jetbridge/runtime/conformance';
import { PodFailedError, PodStartError, type K8sContainer, type K8sWorker } from './index.js';
import { OutputTooLargeError } from './output-size-limit.js';
import {
  Collector,
  eventually,
  helperBuild,
  runShell as run,
  startTestEnvironment,
  type TestEnvironment,
} from './test-environment.js';

const namespace = 'stream-faults';
let env: TestEnvironment;

function containerSpec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    handle: `stream-fault-${randomUUID()}`,
    env: {},
    mounts: [],
    metadata: { type: 'task', teamName: 'main', stepName: 'unit', buildId: 1 },
    ...overrides,
  };
}

function newWorker(overrides: Parameters<TestEnvironment['streamWorkerConfig']>[0] = {}): Promise<K8sWorker> {
  return env.newWorker(env.streamWorkerConfig(overrides));
}

function newVolume(worker: K8sWorker): Promise<Volume> {
  return worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
}

async function contentOf(volume: Volume): Promise<Map<string, string>> {
  const entries = await readTar(await volume.streamOut('.'));
  return new Map(
    [...entries].map(([name, entry]) => [name, entry.linkname ?? entry.content.toString('utf8')]),
  );
}

/** Anything in the web's store besides the artifacts themselves (staging directories of a collection). */
async function strayDirectories(): Promise<string[]> {
  const names = await readdir(path.join(env.webStore.root, 'data'));
  const handles = new Set((await env.webStore.list()).map((artifact) => artifact.handle));
  return names.filter((name) => !handles.has(name));
}

function droppedSessions(container: Container): number {
  return env.server
    .execSessions()
    .filter((session) => session.pod === (container as K8sContainer).podName && session.state === 'dropped')
    .length;
}

const build = helperBuild;
const suite = 'skip' in build ? describe.skip : describe;
if ('skip' in build) {
  const why = build.skip;
  describe('K8sWorker stream-mode faults', () => it.skip(why, () => undefined));
}

suite('K8sWorker in stream mode under faults (kube-test-server)', () => {
  beforeAll(async () => {
    if ('skip' in build) return;
    env = await startTestEnvironment(namespace, build.path);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('streams an input in again when the exec carrying it drops: the step reads every byte', async () => {
    const worker = await newWorker();
    const blob = randomBytes(3_000_000);
    const input = await newVolume(worker);
    await input.streamIn('.', makeTar([{ name: 'blob.bin', content: blob }]));
    env.server.faults.dropExecSockets({ afterBytes: 1_000_000, direction: 'stdin', count: 1 });
    const container = await worker.createContainer(
      containerSpec({ mounts: [{ volume: input, path: 'in', readOnly: true }] }),
    );
    expect(droppedSessions(container)).toBe(1);
    const stdout = new Collector();
    expect(await (await run(container, 'cat in/blob.bin', { stdout })).wait()).toBe(0);
    expect(stdout.bytes().equals(blob)).toBe(true);
    await worker.close();
  });

  it('collects an output again when the exec carrying it drops: the artifact is complete', async () => {
    const worker = await newWorker();
    const blob = randomBytes(2_000_000);
    const input = await newVolume(worker);
    await input.streamIn('.', makeTar([{ name: 'blob.bin', content: blob }]));
    const output = await newVolume(worker);
    const container = await worker.createContainer(
      containerSpec({
        mounts: [
          { volume: input, path: 'in', readOnly: true },
          { volume: output, path: 'out' },
        ],
      }),
    );
    const process = await run(container, 'sleep 0.5; cp in/blob.bin out/copy.bin; echo done > out/done');
    // The next exec opened is the collection (the process's own exec is open already).
    env.server.faults.dropExecSockets({ afterBytes: 500_000, direction: 'output', count: 1 });
    expect(await process.wait()).toBe(0);
    expect(droppedSessions(container)).toBe(1);
    const entries = await readTar(await output.streamOut('.'));
    expect(entries.get('copy.bin')?.content.equals(blob)).toBe(true);
    expect(entries.get('done')?.content.toString()).toBe('done\n');
    expect(await strayDirectories()).toEqual([]);
    await worker.close();
  });

  it('ends a step errored, leaving its output as it was, when its pod is deleted mid-step', async () => {
    const worker = await newWorker();
    const output = await newVolume(worker);
    await output.streamIn('.', makeTar([{ name: 'before.txt', content: 'before\n' }]));
    const container = await worker.createContainer(
      containerSpec({ mounts: [{ volume: output, path: 'out' }] }),
    );
    const stdout = new Collector();
    const process = await run(container, 'echo changed > out/before.txt; echo started; sleep 300', {
      stdout,
    });
    await eventually(() => stdout.text().includes('started'), 10_000, 'the step to start');
    await env.server.faults.deletePod(namespace, (container as K8sContainer).podName, 0);
    await expect(process.wait()).rejects.toBeInstanceOf(PodFailedError);
    expect(await contentOf(output)).toEqual(new Map([['before.txt', 'before\n']]));
    expect(await strayDirectories()).toEqual([]);
    await worker.close();
    expect(env.server.pod(namespace, (container as K8sContainer).podName)).toBeUndefined();
  });

  it('after a web restart, collects the outputs of a step that finished while no web was there', async () => {
    const first = await newWorker();
    const output = await newVolume(first);
    const spec = containerSpec({ mounts: [{ volume: output, path: 'out' }] });
    const container = await first.createContainer(spec);
    await run(container, 'sleep 1; echo result > out/result.txt; exit 3', {}, 'step');
    await first.disconnect();
    expect(await contentOf(output)).toEqual(new Map());

    const second = await newWorker();
    const again = await second.lookupContainer(spec.handle);
    if (!again) throw new Error('the container was not found after the restart');
    await eventually(
      async () => (await again.listProcesses()).some((each) => each.id === 'step' && !each.running),
      10_000,
      'the step to finish',
    );
    const finished = await again.attach('step', {});
    expect(await finished.wait()).toBe(3);
    expect(await contentOf(output)).toEqual(new Map([['result.txt', 'result\n']]));
    await second.close();
  });

  it('refuses an output holding a symlink that points outside it: the step errors, the artifact is unchanged', async () => {
    const worker = await newWorker();
    const output = await newVolume(worker);
    const container = await worker.createContainer(
      containerSpec({ mounts: [{ volume: output, path: 'out' }] }),
    );
    const process = await run(container, 'echo kept > out/file; ln -s /etc/passwd out/escape');
    const error = await process.wait().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/cannot collect output .*\/out \(volume /);
    expect(await contentOf(output)).toEqual(new Map());
    expect(await strayDirectories()).toEqual([]);
    await worker.close();
  });

  it('refuses an output over --kubernetes-stream-max-output-size: the step errors naming it, the artifact is unchanged', async () => {
    const worker = await newWorker({ artifacts: { mode: 'stream', maxOutputBytes: 1024 * 1024 } });
    const output = await newVolume(worker);
    await output.streamIn('.', makeTar([{ name: 'old.txt', content: 'old\n' }]));
    const container = await worker.createContainer(
      containerSpec({ mounts: [{ volume: output, path: 'out' }] }),
    );
    const process = await run(container, 'head -c 3000000 /dev/urandom > out/big.bin');
    const error = await process.wait().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(OutputTooLargeError);
    expect((error as Error).message).toMatch(
      /^output .*\/out is too large to collect: it is larger than 1 MiB uncompressed, the limit of --kubernetes-stream-max-output-size$/,
    );
    expect(await contentOf(output)).toEqual(new Map([['old.txt', 'old\n']]));
    expect(await strayDirectories()).toEqual([]);
    await worker.close();
  });

  it('collects an output directory the step removed as an empty artifact', async () => {
    const worker = await newWorker();
    const output = await newVolume(worker);
    await output.streamIn('.', makeTar([{ name: 'old.txt', content: 'old\n' }]));
    const container = await worker.createContainer(
      containerSpec({ mounts: [{ volume: output, path: 'out' }] }),
    );
    expect(await (await run(container, 'cat out/old.txt && rm -r out')).wait()).toBe(0);
    expect(await contentOf(output)).toEqual(new Map());
    await worker.close();
  });

  it('fails the start, deleting the pod, when an input cannot be streamed in', async () => {
    const worker = await newWorker();
    const input = await newVolume(worker);
    // The pod will not be able to write below a read-only directory of its own image: here, a path the
    // helper cannot create (a file where a directory must be).
    const blocked = await newVolume(worker);
    await blocked.streamIn('.', makeTar([{ name: 'x', content: 'a file\n' }]));
    const spec = containerSpec({
      mounts: [
        { volume: blocked, path: 'in', readOnly: true },
        { volume: input, path: 'in/x/y', readOnly: true },
      ],
    });
    const error = await worker.createContainer(spec).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PodStartError);
    expect((error as PodStartError).reason).toBe('InputStreamFailed');
    expect((error as Error).message).toContain('in/x/y');
    expect(await worker.lookupContainer(spec.handle)).toBeUndefined();
    expect((await worker.listContainers()).map((info) => info.handle)).not.toContain(spec.handle);
    await worker.close();
  });

  it('ends a start whose inputs are being streamed in when the worker closes, deleting the pod', async () => {
    const worker = await newWorker();
    const input = await newVolume(worker);
    await input.streamIn('.', makeTar([{ name: 'big.bin', content: randomBytes(30_000_000) }]));
    const spec = containerSpec({ mounts: [{ volume: input, path: 'in', readOnly: true }] });
    const started = worker.createContainer(spec).then(
      () => undefined,
      (err: unknown) => err,
    );
    await eventually(
      () =>
        env.server
          .execSessions()
          .some((session) => session.command.includes('tar-in') && session.stdinBytes > 0),
      20_000,
      'the input transfer to begin',
    );
    await worker.close();
    const error = await started;
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toContain('is closed');
    const pods = await fetch(`${env.server.url}/api/v1/namespaces/${namespace}/pods`, {
      headers: { authorization: 'Bearer kube-test-server' },
    }).then(
      (response) =>
        response.json() as Promise<{ items: { metadata: { annotations?: Record<string, string> } }[] }>,
    );
    expect(pods.items.map((pod) => pod.metadata.annotations?.['jetbridge.io/handle'])).not.toContain(
      spec.handle,
    );
  });

  it('refuses a stream-mode worker without the web artifact store', async () => {
    const config = env.streamWorkerConfig();
    delete config.artifactStore;
    await expect(env.newWorker(config)).rejects.toThrow(
      /artifactStore is required in artifact mode 'stream'/,
    );
  });
});
