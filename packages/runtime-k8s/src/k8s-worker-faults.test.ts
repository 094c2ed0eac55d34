import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { RuntimeError } from '@jetbridge/runtime';
import type { Container, ContainerSpec, Volume } from '@jetbridge/runtime';
import {
  PodFailedError,
  PodStartError,
  type ContainerNotice,
  type K8sContainer,
  type K8sWorker,
  type K8sWorkerConfig,
} from './index.js';
import {
  CLAIM,
  Collector,
  eventually,
  helperBuild,
  runShell as run,
  startTestEnvironment,
  type TestEnvironment,
} from './test-environment.js';

const namespace = 'faults';
let env: TestEnvironment;

function containerSpec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    handle: `fault-${randomUUID()}`,
    env: {},
    mounts: [],
    metadata: {
      type: 'task',
      teamName: 'main',
      stepName: 'unit',
      buildId: 1,
      pipelineName: 'p',
      jobName: 'j',
    },
    ...overrides,
  };
}

async function podOf(worker: K8sWorker, container: Container): Promise<K8sContainer> {
  const found = await worker.lookupContainer(container.handle);
  if (!found) throw new Error(`no container ${container.handle}`);
  return found;
}

function outputVolume(worker: K8sWorker): Promise<Volume> {
  return worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
}

type ArtifactMode = 'pvc' | 'stream';

/** Where the web sees a volume's files: on the claim (pvc), or in its own store (stream). */
function volumeDir(mode: ArtifactMode, volume: Volume): string {
  return mode === 'pvc'
    ? path.join(env.server.claimDir(namespace, CLAIM), 'artifacts', 'data', volume.handle)
    : path.join(env.webStore.root, 'data', volume.handle);
}

const build = helperBuild;
const suite = 'skip' in build ? describe.skip : describe;
if ('skip' in build) {
  const why = build.skip;
  describe('K8sWorker faults', () => it.skip(why, () => undefined));
}

// Every fault in both artifact modes: none of them depends on where artifacts live, and stream mode adds
// execs (transfers) that must not change the outcome. Stream-only faults: k8s-worker-stream-faults.test.ts.
suite.each<ArtifactMode>(['pvc', 'stream'])('K8sWorker under faults (kube-test-server, %s mode)', (mode) => {
  const newWorker = (overrides: Partial<K8sWorkerConfig> = {}): Promise<K8sWorker> =>
    env.newWorker(mode === 'stream' ? env.streamWorkerConfig(overrides) : overrides);

  beforeAll(async () => {
    if ('skip' in build) return;
    env = await startTestEnvironment(namespace, build.path);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('resumes a dropped exec from its offsets: every line of output exactly once, exit status from the helper', async () => {
    const metrics = new Registry();
    const worker = await newWorker({ metrics });
    const container = await worker.createContainer(containerSpec());
    // The spawn exec and the first resumption are both cut mid-output (TCP reset: no close frame, no status).
    env.server.faults.dropExecSockets({ afterBytes: 30_000, count: 2 });
    const stdout = new Collector();
    const stderr = new Collector();
    const script =
      'i=0; while [ $i -lt 12000 ]; do echo "line $i"; if [ $((i % 2000)) -eq 0 ]; then echo "err $i" >&2; fi; i=$((i+1)); done; exit 7';
    const process = await run(container, script, { stdout, stderr });
    expect(await process.wait()).toBe(7);

    const lines = stdout.text().split('\n').slice(0, -1);
    expect(lines).toEqual(Array.from({ length: 12000 }, (_, i) => `line ${i}`));
    expect(stderr.text()).toBe(
      ['err 0', 'err 2000', 'err 4000', 'err 6000', 'err 8000', 'err 10000', ''].join('\n'),
    );
    const sessions = env.server
      .execSessions()
      .filter((session) => session.pod === (container as K8sContainer).podName);
    expect(sessions.filter((session) => session.state === 'dropped')).toHaveLength(2);
    const reattaches = await metrics.getSingleMetric('jetbridge_k8s_reattaches_total')?.get();
    expect(
      reattaches?.values.find((value) => value.labels.kind === 'reconnect')?.value,
    ).toBeGreaterThanOrEqual(2);
    await worker.close();
  });

  it('gives a process end of file on stdin when the exec carrying it drops, and still collects all its output', async () => {
    const worker = await newWorker();
    const container = await worker.createContainer(containerSpec());
    // Cut inside the first output frame, after the started frame (~40 bytes).
    env.server.faults.dropExecSockets({ afterBytes: 45, count: 1 });
    const stdin = new PassThrough();
    const stdout = new Collector();
    const process = await run(container, 'echo ready; cat; echo after-eof', { stdin, stdout });
    await eventually(() => stdout.text().includes('ready'), 10_000, 'the process to start');
    // The spawn exec (which also carries stdin) is gone: the process reads end of file, as from a closed pipe.
    expect(await process.wait()).toBe(0);
    expect(stdout.text()).toBe('ready\nafter-eof\n');
    stdin.end();
    await worker.close();
  });

  it('ends a step errored with a diagnostic block when its pod is evicted mid-step', async () => {
    const worker = await newWorker();
    const container = await worker.createContainer(containerSpec());
    const stdout = new Collector();
    const process = await run(container, 'echo started; sleep 300', { stdout });
    await eventually(() => stdout.text().includes('started'), 10_000, 'the step to start');
    const { podName } = await podOf(worker, container);
    env.server.faults.evictPod(namespace, podName);

    const error = await process.wait().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PodFailedError);
    const failure = error as PodFailedError;
    expect(failure).toBeInstanceOf(RuntimeError);
    expect(failure.reason).toBe('Evicted');
    expect(failure.stepName).toBe('unit');
    expect(failure.message).toContain('low on resource: memory');
    expect(failure.message).toContain('phase: Failed (Evicted)');
    expect(failure.message).toContain(`node: ${env.server.nodeName}`);
    expect(failure.message).toContain('DisruptionTarget=True');
    expect(failure.message).toMatch(/container main: terminated: Error, exit 137/);
    expect(failure.message).toMatch(/Warning Evicted/);
    // Further processes fail the same way, at once.
    await expect(run(container, 'true')).rejects.toBeInstanceOf(PodFailedError);
    await worker.close();
  });

  it('ends a step errored when someone else deletes its pod', async () => {
    const worker = await newWorker();
    const container = await worker.createContainer(containerSpec());
    const process = await run(container, 'sleep 300');
    await env.server.faults.deletePod(namespace, (await podOf(worker, container)).podName, 0);
    await expect(process.wait()).rejects.toThrow(/pod .* failed: Deleted/);
    await worker.close();
  });

  it('waits for a node up to the scheduling limit, says so in the build log, then errors with the message', async () => {
    const notices: ContainerNotice[] = [];
    const worker = await newWorker({
      schedulingTimeoutMs: 2_000,
      onNotice: (notice) => notices.push(notice),
    });
    const message = '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.';
    const release = env.server.faults.holdPending({ namespace, message });
    const spec = containerSpec();
    try {
      const error = await worker.createContainer(spec).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PodStartError);
      const failure = error as PodStartError;
      expect(failure.reason).toBe('Unschedulable');
      expect(failure.message).toContain('no node could run the pod within 2s');
      expect(failure.message).toContain('3 Insufficient memory');
      expect(failure.message).toContain('PodScheduled=False (Unschedulable');
      expect(failure.message).toMatch(/Warning FailedScheduling/);
      expect(notices).toEqual([
        expect.objectContaining({
          handle: spec.handle,
          message: `waiting for a node to run the step: ${message}`,
        }),
      ]);
      // No orphan: the pod that never ran is deleted.
      await eventually(
        () => env.server.pod(namespace, failure.podName) === undefined,
        10_000,
        'the pod to go',
      );
      expect(await worker.lookupContainer(spec.handle)).toBeUndefined();
    } finally {
      release();
      await worker.close();
    }
  });

  it('fails fast on image pull errors, with the reason and the kubelet event', async () => {
    const worker = await newWorker();
    const restore = env.server.faults.failImagePulls({
      image: 'registry.example/missing:1',
      reason: 'ErrImagePull',
    });
    try {
      const spec = containerSpec({
        image: { kind: 'registry', repository: 'registry.example/missing', tag: '1' },
      });
      const error = await worker.createContainer(spec).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PodStartError);
      const failure = error as PodStartError;
      expect(failure.reason).toBe('ErrImagePull');
      expect(failure.message).toContain('container main: ErrImagePull');
      expect(failure.message).toContain('Failed to pull image "registry.example/missing:1"');
      await eventually(
        () => env.server.pod(namespace, failure.podName) === undefined,
        10_000,
        'the pod to go',
      );
    } finally {
      restore();
      await worker.close();
    }
  });

  it('refuses privileged steps unless allowed, and tags without a placement', async () => {
    const worker = await newWorker({ placement: { gpu: { nodeSelector: { gpu: 'true' } } } });
    await expect(worker.createContainer(containerSpec({ privileged: true }))).rejects.toThrow(
      /asks for privileged: true, which this JetBridge does not allow/,
    );
    await expect(worker.createContainer(containerSpec({ tags: ['arm'] }))).rejects.toThrow(
      /no Kubernetes placement is configured for step tag 'arm' \(configured: gpu\)/,
    );
    expect(worker.info().tags).toEqual(['gpu']);
    await worker.close();
  });

  it('survives watches that expire (410) or end silently: a pod released later is still seen to start', async () => {
    // No polling to fall back on: only the watch can tell the worker the pod runs.
    const worker = await newWorker({ podPollIntervalMs: 600_000, resyncIntervalMs: 600_000 });
    const release = env.server.faults.holdPending({
      namespace,
      message: '0/1 nodes are available: 1 Too many pods.',
    });
    const spec = containerSpec();
    const created = worker.createContainer(spec);
    try {
      await eventually(
        () =>
          env.server
            .requests()
            .some((request) => request.method === 'POST' && request.path.endsWith('/pods')),
        10_000,
        'the pod to be created',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      env.server.faults.compactHistory();
      expect(env.server.faults.expireWatches()).toBeGreaterThan(0);
      await eventually(() => env.server.openWatchCount() > 0, 10_000, 'the watch to be re-established');
      expect(env.server.faults.endWatchesSilently()).toBeGreaterThan(0);
      await eventually(() => env.server.openWatchCount() > 0, 10_000, 'the watch to be re-established again');
    } finally {
      release();
    }
    const container = await created;
    const stdout = new Collector();
    const process = await run(container, 'echo through', { stdout });
    env.server.faults.endWatchesSilently();
    expect(await process.wait()).toBe(0);
    expect(stdout.text()).toBe('through\n');
    await worker.close();
  });

  it('after a web restart, collects a finished step without running it again, and re-attaches to a running one', async () => {
    const first = await newWorker();
    const output = await outputVolume(first);
    const spec = containerSpec({ mounts: [{ volume: output, path: 'out' }] });
    const container = await first.createContainer(spec);
    await run(container, 'sleep 1; echo ran >> out/count; echo finished; exit 3', {}, 'step-finished');
    await run(container, 'echo before; sleep 3; echo after; exit 4', {}, 'step-running');
    // The web goes away without touching the pods (a rolling restart).
    await first.disconnect();

    const countFile = path.join(volumeDir(mode, output), 'count');

    const second = await newWorker();
    const recovered = await second.recover();
    expect(recovered.map((each) => each.handle)).toContain(spec.handle);
    const again = await second.lookupContainer(spec.handle);
    if (!again) throw new Error('the container was not found after the restart');
    expect(again.metadata).toEqual(spec.metadata);
    await eventually(
      async () => (await again.listProcesses()).some((each) => each.id === 'step-finished' && !each.running),
      10_000,
      'the step to finish',
    );

    const finished = await again.attach('step-finished', {});
    expect(await finished.wait()).toBe(3);
    // Running it again by id is refused: the engine attaches instead.
    await expect(run(again, 'echo ran >> out/count', {}, 'step-finished')).rejects.toThrow(/already exists/);

    const stdout = new Collector();
    const running = await again.attach('step-running', { stdout });
    expect(await running.wait()).toBe(4);
    expect(stdout.text()).toContain('after\n');
    expect(stdout.text()).not.toContain('before');

    expect(await readFile(countFile, 'utf8')).toBe('ran\n');
    const processes = await again.listProcesses();
    expect(processes.find((each) => each.id === 'step-finished')).toMatchObject({
      running: false,
      exit: { status: 3 },
    });
    // A recovered container still runs hijacked processes with the container env it was created with.
    await second.close();
  });

  it("after a web restart, resumes a step's output from given byte offsets (finished or running), nothing twice", async () => {
    const first = await newWorker();
    const container = await first.createContainer(containerSpec());
    await run(container, 'echo one; echo two; echo err-1 >&2; exit 5', {}, 'offsets-finished');
    await run(
      container,
      'echo één; echo err-1 >&2; sleep 2; echo twee; echo err-2 >&2; exit 6',
      {},
      'offsets-running',
    );
    await first.disconnect();

    const second = await newWorker();
    await second.recover();
    const again = await second.lookupContainer(container.handle);
    if (!again) throw new Error('the container was not found after the restart');
    await eventually(
      async () =>
        (await again.listProcesses()).some((each) => each.id === 'offsets-finished' && !each.running),
      10_000,
      'the first step to finish',
    );
    const finishedOut = new Collector();
    const finishedErr = new Collector();
    const finished = await again.attach(
      'offsets-finished',
      { stdout: finishedOut, stderr: finishedErr },
      { stdout: Buffer.byteLength('one\n'), stderr: 0 },
    );
    expect(await finished.wait()).toBe(5);
    expect(finishedOut.text()).toBe('two\n');
    expect(finishedErr.text()).toBe('err-1\n');

    const runningOut = new Collector();
    const runningErr = new Collector();
    const running = await again.attach(
      'offsets-running',
      { stdout: runningOut, stderr: runningErr },
      { stdout: Buffer.byteLength('één\n'), stderr: Buffer.byteLength('err-1\n') },
    );
    expect(await running.wait()).toBe(6);
    expect(runningOut.text()).toBe('twee\n');
    expect(runningErr.text()).toBe('err-2\n');
    await second.close();
  });

  it('keeps the container env for processes run by a web that did not create the container', async () => {
    const first = await newWorker();
    const spec = containerSpec({ env: { TASK_PARAM: 'secret-value' } });
    const container = await first.createContainer(spec);
    expect(await (await run(container, 'test "$TASK_PARAM" = secret-value')).wait()).toBe(0);
    await first.disconnect();
    // Params never appear in the pod spec (they travel over exec stdin).
    const pod = env.server.pod(namespace, (container as K8sContainer).podName);
    expect(JSON.stringify(pod?.spec)).not.toContain('secret-value');

    const second = await newWorker();
    const again = await second.lookupContainer(spec.handle);
    const stdout = new Collector();
    expect(await (await run(again!, 'echo "$TASK_PARAM"', { stdout })).wait()).toBe(0);
    expect(stdout.text()).toBe('secret-value\n');
    await second.close();
  });

  it('leaves no orphan pod or process after close', async () => {
    const worker = await newWorker();
    const containers = await Promise.all([1, 2, 3].map(() => worker.createContainer(containerSpec())));
    const stdout = new Collector();
    await run(containers[0]!, 'echo $$; exec sleep 300', { stdout });
    await eventually(() => /^\d+\n/.test(stdout.text()), 10_000, 'the pid');
    const pid = Number(stdout.text().trim());
    const podNames = containers.map((container) => (container as K8sContainer).podName);
    expect(podNames.every((name) => env.server.pod(namespace, name) !== undefined)).toBe(true);

    await worker.close();
    expect(podNames.map((name) => env.server.pod(namespace, name))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    await eventually(
      () =>
        readFile(`/proc/${pid}/stat`, 'utf8').then(
          (stat) => stat.includes(') Z'),
          () => true,
        ),
      5_000,
      'the step process to be gone',
    );
    await expect(worker.createContainer(containerSpec())).rejects.toBeInstanceOf(RuntimeError);
  });

  it('ends a pod start waiting for a node when the worker closes, deleting the pod', async () => {
    const worker = await newWorker();
    const release = env.server.faults.holdPending({
      namespace,
      message: '0/1 nodes are available: 1 Too many pods.',
    });
    try {
      const spec = containerSpec();
      const created = worker.createContainer(spec).then(
        () => undefined,
        (err: unknown) => err,
      );
      await eventually(
        () =>
          env.server
            .requests()
            .filter((request) => request.method === 'POST' && request.path.endsWith('/pods')).length > 0,
        10_000,
        'the pod to be created',
      );
      await worker.close();
      const error = await created;
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toContain('is closed');
      const pods = await fetch(
        `${env.server.url}/api/v1/namespaces/${namespace}/pods?labelSelector=jetbridge.io/handle-hash`,
        { headers: { authorization: 'Bearer kube-test-server' } },
      ).then(
        (response) =>
          response.json() as Promise<{ items: { metadata: { annotations?: Record<string, string> } }[] }>,
      );
      expect(pods.items.map((pod) => pod.metadata.annotations?.['jetbridge.io/handle'])).not.toContain(
        spec.handle,
      );
    } finally {
      release();
    }
  });

  it('reaps pods of finished builds, keeping recently finished ones for hijack', async () => {
    const worker = await newWorker({ keepForHijackMs: 60_000 });
    const over = await worker.createContainer(
      containerSpec({ metadata: { type: 'task', teamName: 'main', buildId: 101 } }),
    );
    const justFinished = await worker.createContainer(
      containerSpec({ metadata: { type: 'task', teamName: 'main', buildId: 101 } }),
    );
    const running = await worker.createContainer(
      containerSpec({ metadata: { type: 'task', teamName: 'main', buildId: 102 } }),
    );
    expect(await (await run(justFinished, 'true')).wait()).toBe(0);
    await eventually(
      () =>
        env.server.pod(namespace, (justFinished as K8sContainer).podName)?.metadata.annotations?.[
          'jetbridge.io/last-exit'
        ] !== undefined,
      5_000,
      'the exit to be recorded on the pod',
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the watch bring the annotation

    const asked: number[] = [];
    const reaped = await worker.reapPods((pod) => {
      asked.push(pod.metadata.buildId ?? 0);
      return pod.metadata.buildId === 101;
    });
    expect(reaped).toEqual([over.handle]);
    expect(asked.sort()).toEqual([101, 101, 102]);
    expect(await worker.lookupContainer(over.handle)).toBeUndefined();
    expect(await worker.lookupContainer(justFinished.handle)).toBeDefined();
    expect(await worker.lookupContainer(running.handle)).toBeDefined();
    await worker.close();
  });
});
