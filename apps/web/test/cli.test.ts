import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loginToken } from './harness.js';

// The built CLI, exactly what `pnpm start` runs (the test script builds before jest runs).
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout?.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('jetbridge CLI', () => {
  it('--help lists the options with their environment variables and exits 0', async () => {
    const run = runCli(['web', '--help']);
    expect(await run.exited).toBe(0);
    expect(run.stdout).toContain('--bind-port');
    expect(run.stdout).toContain('$CONCOURSE_POSTGRES_HOST');
    expect(run.stdout).toContain('--data-dir');
  });

  it('a bad value fails at start with a message naming the flag', async () => {
    const run = runCli(['web'], { CONCOURSE_BIND_PORT: 'eighty' });
    expect(await run.exited).toBe(2);
    expect(run.stderr).toContain('--bind-port (CONCOURSE_BIND_PORT)');
  });

  it('an unknown command is refused', async () => {
    const run = runCli(['worker']);
    expect(await run.exited).toBe(2);
    expect(run.stderr).toContain("unknown command 'worker'");
  });
});

describe('jetbridge web on the embedded default', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-cli-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startAndLogin(port: number): Promise<{ run: Run; password: string }> {
    const run = runCli(['web', '--bind-ip', '127.0.0.1', '--bind-port', String(port)], {
      JETBRIDGE_DATA_DIR: dataDir,
    });
    await waitFor(
      () => run.stderr.includes('Log in with:') || run.child.exitCode !== null,
      'the start banner',
    );
    expect(run.stderr).toContain(`JetBridge is running at http://localhost:${port}`);
    const match = /fly -t local login -c (\S+) -u admin -p (\S+)/.exec(run.stderr);
    expect(match?.[1]).toBe(`http://localhost:${port}`);
    const password = match?.[2] ?? '';

    const info = await fetch(`http://127.0.0.1:${port}/api/v1/info`);
    expect(info.status).toBe(200);
    expect(((await info.json()) as { version: string }).version).toBe('8.2.5');
    // The printed credentials work for fly's password grant.
    const token = await loginToken(`http://127.0.0.1:${port}`, { username: 'admin', password });
    const user = await fetch(`http://127.0.0.1:${port}/api/v1/user`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await user.json()) as { is_admin: boolean }).is_admin).toBe(true);
    return { run, password };
  }

  it('starts PostgreSQL in the data directory, prints the login line, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const first = await startAndLogin(port);
    // JSON logs on stdout, every line parseable.
    const lines = first.run.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);

    first.run.child.kill('SIGTERM');
    expect(await first.run.exited).toBe(0);
    // PostgreSQL was stopped too: no postmaster left holding the directory.
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // A restart on the same directory keeps the generated user's password.
    const second = await startAndLogin(port);
    expect(second.password).toBe(first.password);
    second.run.child.kill('SIGINT');
    expect(await second.run.exited).toBe(0);
  });

  it('recovers after being killed with SIGKILL (PostgreSQL left running is stopped and restarted)', async () => {
    const port = await freePort();
    const first = await startAndLogin(port);
    first.run.child.kill('SIGKILL');
    await first.run.exited;
    const second = await startAndLogin(port);
    expect(second.password).toBe(first.password);
    second.run.child.kill('SIGTERM');
    expect(await second.run.exited).toBe(0);
  });
});
