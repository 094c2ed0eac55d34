// The output collector thread against the kube test server: a real pod, the real helper's tar-out, a real
// worker thread (the package's build output), real extraction into a directory.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import type { K8sContainer, K8sWorker } from '../index.js';
import { ExecAbortedError, ExecUpgradeError } from '../exec/index.js';
import { helperBuild, runShell, startTestEnvironment, type TestEnvironment } from '../test-environment.js';
import { OutputCollectorThread } from './collector-thread.js';
import type { TarOutRequest } from './tar-out-receiver.js';

const namespace = 'collector-thread';
let env: TestEnvironment;
let worker: K8sWorker;
let container: K8sContainer;
let scratch: string;
/** Where the step wrote, in the pod. */
let podDir: string;
const big = randomBytes(3 * 1024 * 1024 + 17);

const warnings: string[] = [];
const logger = { info: () => undefined, warn: (_: object, message: string) => void warnings.push(message) };

async function staging(): Promise<string> {
  const dir = path.join(scratch, `staging-${randomUUID().slice(0, 8)}`);
  await mkdir(dir);
  return dir;
}

function tarOut(into: string, relative = 'out'): TarOutRequest {
  const target = container.target;
  return {
    namespace,
    pod: container.podName,
    container: target.container,
    command: [target.helperPath, 'tar-out', `--dir=${podDir}`, `--path=${relative}`, '--report'],
    staging: into,
    maxBytes: 0,
  };
}

const suite = 'skip' in helperBuild ? describe.skip : describe;

suite('OutputCollectorThread (kube-test-server)', () => {
  beforeAll(async () => {
    if ('skip' in helperBuild) return;
    env = await startTestEnvironment(namespace, helperBuild.path);
    worker = await env.newWorker(env.streamWorkerConfig());
    scratch = await mkdtemp(path.join(os.tmpdir(), 'collector-thread-'));
    podDir = `/tmp/collector-${randomUUID().slice(0, 8)}`;
    container = (await worker.createContainer({
      handle: `collector-${randomUUID()}`,
      env: {},
      mounts: [],
      metadata: { type: 'task', teamName: 'main', stepName: 'unit', buildId: 1 },
    })) as K8sContainer;
    // The step's output, written in the pod (it has a /tmp of its own).
    const writing = await runShell(
      container,
      `mkdir -p ${podDir}/out/nested ${podDir}/huge && printf 'hello\\n' > ${podDir}/out/nested/note.txt && ` +
        `cat > ${podDir}/out/big.bin && truncate -s 4G ${podDir}/huge/zeros`,
      { stdin: Readable.from([big]) },
    );
    expect(await writing.wait()).toBe(0);
  });
  afterAll(async () => {
    await container?.destroy();
    await env?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('receives an output in a thread of its own: every byte extracted, the counts agree', async () => {
    const collector = new OutputCollectorThread(logger);
    try {
      const into = await staging();
      const outcome = await collector.receive(tarOut(into), env.kubeConfig);
      expect(outcome.execError).toBeUndefined();
      expect(outcome.extractError).toBeUndefined();
      expect(outcome.result?.exitCode).toBe(0);
      expect(outcome.threadId).not.toBe(threadId);
      expect(outcome.threadId).toBeGreaterThan(0);
      expect(outcome.extracted?.bytes).toBe(outcome.result?.stdoutBytes);
      expect(outcome.stderr).toContain(`"bytes":${outcome.result?.stdoutBytes}`);
      expect((await readFile(path.join(into, 'big.bin'))).equals(big)).toBe(true);
      expect(await readFile(path.join(into, 'nested', 'note.txt'), 'utf8')).toBe('hello\n');

      // Several at once share the thread.
      const outcomes = await Promise.all(
        [1, 2, 3].map(async () => collector.receive(tarOut(await staging()), env.kubeConfig)),
      );
      expect(new Set(outcomes.map((each) => each.threadId))).toEqual(new Set([outcome.threadId]));
      expect(outcomes.map((each) => each.result?.exitCode)).toEqual([0, 0, 0]);
    } finally {
      await collector.close();
    }
  });

  it('hands exec errors back as their own classes, with their fields', async () => {
    const collector = new OutputCollectorThread(logger);
    try {
      const outcome = await collector.receive(
        { ...tarOut(await staging()), pod: 'no-such-pod' },
        env.kubeConfig,
      );
      expect(outcome.threadId).not.toBe(threadId);
      expect(outcome.execError).toBeInstanceOf(ExecUpgradeError);
      const error = outcome.execError as ExecUpgradeError;
      expect(error.httpStatus).toBe(404);
      expect(error.target.pod).toBe('no-such-pod');
      expect(error.message).toContain('upgrade refused with HTTP 404');
      expect(error.stack).toContain('ExecUpgradeError');
    } finally {
      await collector.close();
    }
  });

  it('aborts a collection in the thread when its signal aborts, before or during the transfer', async () => {
    const collector = new OutputCollectorThread(logger);
    try {
      const before = await collector.receive(tarOut(await staging()), env.kubeConfig, AbortSignal.abort());
      expect(before.execError).toBeInstanceOf(ExecAbortedError);
      expect(before.threadId).not.toBe(threadId);

      // 4 GiB (sparse in the pod, zeros on the wire): far longer than the abort takes to come.
      const abort = new AbortController();
      const into = await staging();
      const receiving = collector.receive(tarOut(into, 'huge'), env.kubeConfig, abort.signal);
      setTimeout(() => abort.abort(), 300);
      const during = await receiving;
      expect(during.execError).toBeInstanceOf(ExecAbortedError);
      expect(during.result).toBeUndefined();
      await rm(into, { recursive: true, force: true });
    } finally {
      await collector.close();
    }
  });

  it('fails the collections of a thread that dies, and starts a new one for the next', async () => {
    const dying = path.join(scratch, 'dying-entry.mjs');
    await writeFile(
      dying,
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
    );
    const collector = new OutputCollectorThread(logger, 16, dying);
    try {
      await expect(collector.receive(tarOut(await staging()), env.kubeConfig)).rejects.toThrow(
        'the output collector thread exited (code 3) while collecting',
      );
      await expect(collector.receive(tarOut(await staging()), env.kubeConfig)).rejects.toThrow(
        'exited (code 3)',
      );
    } finally {
      await collector.close();
    }
  });

  it('collects on this thread, saying so once, when the thread is not built', async () => {
    warnings.length = 0;
    const collector = new OutputCollectorThread(logger, 16, path.join(scratch, 'not-built.js'));
    try {
      const into = await staging();
      const outcome = await collector.receive(tarOut(into), env.kubeConfig);
      expect(outcome.threadId).toBe(threadId);
      expect((await readFile(path.join(into, 'big.bin'))).equals(big)).toBe(true);
      await collector.receive(tarOut(await staging()), env.kubeConfig);
      expect(warnings).toEqual([
        'the output collector thread is not built: collecting outputs on the main thread',
      ]);
    } finally {
      await collector.close();
    }
  });

  it('refuses collections once closed', async () => {
    const collector = new OutputCollectorThread(logger);
    await collector.close();
    await expect(collector.receive(tarOut(await staging()), env.kubeConfig)).rejects.toThrow(
      'the output collector is closed',
    );
  });
});
