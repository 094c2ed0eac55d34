// The real `fly` CLI (v8.2.5) against a real JetBridge: login, execute with inputs and outputs, failing
// tasks, Ctrl-C abort, intercept, and the listing commands. fly is built once into a cache directory outside
// the repository (never committed); without Go and without a cached build these tests are skipped.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, startTestServer, type TestServer } from './harness.js';

const FLY_VERSION = '8.2.5';
const CACHE_DIR = path.join(os.tmpdir(), 'jetbridge-fly');

/** A fly binary: $JETBRIDGE_FLY, a cached build, or one built now with Go; else why there is none. */
function locateFly(): { path: string } | { skip: string } {
  const candidates = [process.env['JETBRIDGE_FLY'], path.join(CACHE_DIR, 'fly'), '/tmp/flybin/fly'].filter(
    (candidate): candidate is string => candidate !== undefined && candidate !== '',
  );
  for (const candidate of candidates) {
    if (existsSync(candidate)) return { path: candidate };
  }
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return { skip: 'Go is not on PATH and no fly binary is cached, so the real fly CLI cannot be built' };
  }
  try {
    execFileSync(
      'go',
      [
        'install',
        '-ldflags',
        `-X github.com/concourse/concourse.Version=${FLY_VERSION}`,
        `github.com/concourse/concourse/fly@v${FLY_VERSION}`,
      ],
      { env: { ...process.env, GOBIN: CACHE_DIR }, stdio: 'ignore', timeout: 20 * 60_000 },
    );
    return { path: path.join(CACHE_DIR, 'fly') };
  } catch (err) {
    return {
      skip: `building fly v${FLY_VERSION} with Go failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    };
  }
}

const fly = locateFly();
const flyIt = 'path' in fly ? it : it.skip;
const skipNote = 'skip' in fly ? ` [skipped: ${fly.skip}]` : '';

interface FlyResult {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TestServer;
let home: string;

/** Run fly with its own HOME (its ~/.flyrc), collecting output; `onStdout` may react while it runs. */
function runFly(
  args: string[],
  options: { cwd?: string; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<FlyResult> {
  if (!('path' in fly)) throw new Error(fly.skip);
  const child = spawn(fly.path, ['-t', 'jb', ...args], {
    cwd: options.cwd ?? home,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result: FlyResult = { code: -1, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    result.stdout += chunk.toString();
    options.onStdout?.(result.stdout, child);
  });
  child.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      result.code = code ?? -1;
      resolve(result);
    });
  });
}

async function taskFile(name: string, body: string): Promise<string> {
  const file = path.join(home, name);
  await writeFile(file, body);
  return file;
}

describe(`the real fly CLI v${FLY_VERSION}${skipNote}`, () => {
  beforeAll(async () => {
    if (!('path' in fly)) return;
    server = await startTestServer();
    home = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-fly-home-'));
    const login = await runFly(['login', '-c', server.url, '-u', ADMIN.username, '-p', ADMIN.password]);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
  });

  afterAll(async () => {
    await server?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  });

  flyIt('executes a task with an input and an output', async () => {
    const input = path.join(home, 'input');
    await mkdir(path.join(input, 'sub'), { recursive: true });
    await writeFile(path.join(input, 'greeting.txt'), 'hello\n');
    await writeFile(path.join(input, 'sub', 'numbers.txt'), '1\n2\n3\n');
    const output = path.join(home, 'output');
    await mkdir(output);
    const task = await taskFile(
      'task.yml',
      [
        'platform: linux',
        'image_resource: {type: registry-image, source: {repository: busybox}}',
        'inputs: [{name: in}]',
        'outputs: [{name: out}]',
        'run:',
        '  path: sh',
        '  args: [-c, "cat in/greeting.txt; cp -R in/sub out/; wc -l < in/sub/numbers.txt > out/count.txt"]',
      ].join('\n'),
    );
    const result = await runFly(['execute', '-c', task, '-i', `in=${input}`, '-o', `out=${output}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/executing build \d+ at /);
    expect(result.stdout).toContain('selected worker:');
    expect(result.stdout).toContain('hello\n');
    expect(result.stdout).toContain('succeeded');
    expect(await readFile(path.join(output, 'sub', 'numbers.txt'), 'utf8')).toBe('1\n2\n3\n');
    expect((await readFile(path.join(output, 'count.txt'), 'utf8')).trim()).toBe('3');
  });

  flyIt('exits 1 when the task fails', async () => {
    const task = await taskFile(
      'fail.yml',
      'platform: linux\nrun: {path: sh, args: [-c, "echo failing; exit 1"]}\n',
    );
    const result = await runFly(['execute', '-c', task]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('failing');
    expect(result.stdout).toContain('failed');
  });

  flyIt('aborts the build on Ctrl-C and exits 3', async () => {
    const task = await taskFile(
      'sleep.yml',
      'platform: linux\nrun: {path: sh, args: [-c, "echo sleeping; sleep 600"]}\n',
    );
    let interrupted = false;
    const result = await runFly(['execute', '-c', task], {
      onStdout: (text, child) => {
        if (!interrupted && text.includes('sleeping')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(interrupted).toBe(true);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('aborted');
  });

  flyIt('intercepts the container of a finished one-off build', async () => {
    const task = await taskFile('quick.yml', 'platform: linux\nrun: {path: sh, args: [-c, "echo done"]}\n');
    const executed = await runFly(['execute', '-c', task]);
    expect(executed.code).toBe(0);
    const buildId = /executing build (\d+)/.exec(executed.stdout)?.[1];
    expect(buildId).toBeDefined();
    const result = await runFly([
      'intercept',
      '-b',
      buildId!,
      '-s',
      'one-off',
      '--',
      'sh',
      '-c',
      'echo intercepted; exit 3',
    ]);
    expect(result.stdout).toContain('intercepted');
    expect(result.code).toBe(3);
  });

  flyIt('lists workers, containers, volumes and builds', async () => {
    const workers = await runFly(['workers']);
    expect(workers.code).toBe(0);
    expect(workers.stdout).toMatch(/linux\s+none\s+none\s+running\s+2\.5/);
    for (const command of ['containers', 'volumes', 'builds']) {
      const result = await runFly([command]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    expect((await runFly(['builds'])).stdout).toMatch(/succeeded/);
  });
});
