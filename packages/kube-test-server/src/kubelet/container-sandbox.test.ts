import { execFileSync } from 'node:child_process';
import { closeSync, constants, open, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSandbox, type SandboxExit } from './container-sandbox.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-sandbox-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Keeps libuv's thread pool busy, as a loaded web node's is (artifact copies, tar, /proc reads): twice as
 * many readers as it has threads, each holding a thread while it waits in open() of its own FIFO, all let go
 * every `holdMs` and queued again at once. Any fs call made meanwhile waits about that long. No CPU is spent.
 * Returns the function that ends the jam (once every reader is let go).
 */
function jamThreadPool(holdMs: number): () => Promise<void> {
  const threads = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const fifos = Array.from({ length: 2 * threads }, (_, i) => path.join(dir, `jam-${i}`));
  execFileSync('mkfifo', fifos);
  let stopped = false;
  let waiting = 0;
  const block = (fifo: string): void => {
    waiting++;
    open(fifo, 'r', (err, fd) => {
      waiting--;
      if (err) return; // the directory is gone: the test is over
      closeSync(fd);
      if (!stopped) block(fifo);
    });
  };
  // A writer's non-blocking open succeeds only while the FIFO's reader is inside open(): one still queued
  // for a thread is let go at a later release.
  const release = (): void => {
    for (const fifo of fifos) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // Its reader has no thread yet.
      }
    }
  };
  fifos.forEach(block);
  const timer = setInterval(release, holdMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    while (waiting > 0) {
      release();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
}

function within<T>(ms: number, promise: Promise<T>): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('container sandbox', () => {
  it('sees the exit of a command that ends while the thread pool is busy', async () => {
    // The command (`true`, an init container's quick copy) ends well before the sandbox's fs calls come
    // back: its exit must still be seen, or the kubelet would report the container running for ever.
    const unjam = jamThreadPool(150);
    const exits: Array<SandboxExit | string> = [];
    try {
      for (let i = 0; i < 3; i++) {
        const sandbox = await within(
          10_000,
          startSandbox({
            stateDir: path.join(dir, `container-${i}`),
            hostname: `quick-${i}`,
            argv: ['true'],
            workingDir: '/',
            env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
            mounts: [],
            logFile: path.join(dir, `container-${i}.log`),
          }),
        );
        if (sandbox === 'timed out') {
          exits.push('never started');
          break;
        }
        const exit = await within(5_000, sandbox.exited);
        exits.push(exit === 'timed out' ? 'exit never seen' : exit);
      }
    } finally {
      await unjam();
    }
    expect(exits).toEqual([{ exitCode: 0 }, { exitCode: 0 }, { exitCode: 0 }]);
  }, 60_000);
});
