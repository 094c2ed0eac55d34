import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { makeTar } from '@jetbridge/runtime/conformance';
import type { K8sWorker } from './index.js';
import { helperBuild, startTestEnvironment, type TestEnvironment } from './test-environment.js';

// Figures, not only assertions: what a step costs on top of its own work on the kube-test-server (pods are
// local processes, so this is JetBridge's own overhead — API calls, watch latency, init container, execs —
// without image pulls or a real kubelet). Printed for the README.

const STEPS = 12;
let env: TestEnvironment;
let worker: K8sWorker;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function summary(name: string, values: number[]): string {
  return `${name}: p50 ${percentile(values, 50).toFixed(0)} ms, p90 ${percentile(values, 90).toFixed(0)} ms`;
}

const build = helperBuild;
const suite = 'skip' in build ? describe.skip : describe;
if ('skip' in build) {
  const why = build.skip;
  describe('step overhead', () => it.skip(why, () => undefined));
}

suite('per-step overhead (kube-test-server)', () => {
  beforeAll(async () => {
    if ('skip' in build) return;
    env = await startTestEnvironment('overhead', build.path);
    worker = await env.newWorker();
  });
  afterAll(async () => {
    await worker?.close();
    await env?.close();
  });

  it('measures pod start, the first process, and teardown', async () => {
    const input = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
    await input.streamIn(
      '.',
      makeTar(
        Array.from({ length: 200 }, (_, i) => ({
          name: `src/${i % 10}/f${i}.txt`,
          content: `${i}\n`.repeat(50),
        })),
      ),
    );
    const start: number[] = [];
    const startWithInput: number[] = [];
    const firstProcess: number[] = [];
    const nextProcess: number[] = [];
    const destroy: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const withInput = step % 2 === 1;
      const began = performance.now();
      const container = await worker.createContainer({
        handle: `overhead-${randomUUID()}`,
        env: {},
        mounts: withInput ? [{ volume: input, path: 'input', readOnly: true }] : [],
        metadata: { type: 'task', teamName: 'main', stepName: 'overhead' },
      });
      const created = performance.now();
      (withInput ? startWithInput : start).push(created - began);
      const first = await container.run({ path: 'true', args: [] }, {});
      expect(await first.wait()).toBe(0);
      const ran = performance.now();
      firstProcess.push(ran - created);
      const next = await container.run({ path: 'true', args: [] }, {});
      expect(await next.wait()).toBe(0);
      const ranAgain = performance.now();
      nextProcess.push(ranAgain - ran);
      await container.destroy();
      destroy.push(performance.now() - ranAgain);
    }
    const lines = [
      summary('pod create → main running (no inputs)', start),
      summary('pod create → main running (1 input, 200 files)', startWithInput),
      summary('first process (spawn exec → exit status)', firstProcess),
      summary('next process', nextProcess),
      summary('destroy (delete → pod gone)', destroy),
    ];
    process.stdout.write(`\nper-step overhead over ${STEPS} steps:\n  ${lines.join('\n  ')}\n`);
    // Loose bounds: these catch a regression to polling or per-step waits, not machine speed.
    expect(percentile(firstProcess, 50)).toBeLessThan(1_000);
    expect(percentile(start, 50)).toBeLessThan(3_000);
  });
});
