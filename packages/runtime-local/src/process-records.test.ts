import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findProcessesInGroup, LocalWorker } from './index.js';
import { killRecordedProcessGroups } from './process-records.js';

/**
 * A server killed with SIGKILL cannot stop its step processes (each has a process group of its own); the
 * worker that opens the same work directory next stops them. Simulated in one process: the first worker
 * is abandoned without close(), as a killed server abandons it.
 */
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'jetbridge-records-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function eventually(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A stdout that keeps what it was sent. */
function collector(): Writable & { text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return Object.assign(stream, { text: () => text });
}

describe('step processes of a crashed run', () => {
  it('are killed, background children included, when the next worker opens the directory', async () => {
    const crashed = await LocalWorker.create({ workDir });
    const container = await crashed.createContainer({
      handle: 'left-running',
      env: {},
      mounts: [],
      metadata: { type: 'task', teamName: 'main' },
    });
    const stdout = collector();
    const shell = await container.run(
      { path: 'sh', args: ['-c', 'echo $$; sleep 300 & sleep 300'] },
      { stdout },
    );
    await eventually(async () => /^\d+\n/.test(stdout.text()), 5_000, 'the shell pid');
    // The shell leads its own group: its pid is the group id.
    const pgid = Number(stdout.text().trim());
    await eventually(async () => (await findProcessesInGroup(pgid)).length >= 3, 5_000, 'the group to start');

    const next = await LocalWorker.create({ workDir });
    try {
      await eventually(
        async () => (await findProcessesInGroup(pgid)).length === 0,
        5_000,
        'the group to die',
      );
      expect(await shell.wait()).toBe(137);
      expect(await next.listContainers()).toEqual([]);
    } finally {
      await next.close();
    }
  });

  it('leaves alone a process whose pid was reused since it was recorded', async () => {
    const containerDir = path.join(workDir, 'reused');
    await rm(containerDir, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(containerDir, { recursive: true });
    const stranger = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      // Same pid as a recorded group, but another start time: not the step that was recorded.
      await writeFile(path.join(containerDir, 'process-groups'), `${stranger.pid} 1\n`);
      expect(await killRecordedProcessGroups(containerDir)).toEqual([]);
      expect(await findProcessesInGroup(stranger.pid!)).toEqual([stranger.pid]);
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
