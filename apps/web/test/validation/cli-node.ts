// A web node as an operator runs it: the built CLI (`node apps/web/dist/cli.js web`, what `pnpm start`
// runs) as a child process, so fault tests can kill -9 it, fill the disk under it and restart it on the same
// data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, PLAIN_USER, freePort } from '../harness.js';

export { freePort };

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');

/** The test script builds before jest runs; a bare jest run of one file may not have. */
export const cliBuilt = existsSync(CLI);

export interface CliNode {
  child: ChildProcess;
  url: string;
  /** Every JSON log line so far, parsed (non-JSON lines kept as `{ raw }`). */
  logs: Array<Record<string, unknown>>;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start `jetbridge web` on `port` with `dataDir` (embedded PostgreSQL unless `env` names one) and wait until
 * it listens. `stdio` may send stdout to a file descriptor instead of a pipe (a log on a full disk).
 */
export async function startCliNode(options: {
  dataDir: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  stdout?: number;
  timeoutMs?: number;
}): Promise<CliNode> {
  const child = spawn(process.execPath, [CLI, 'web'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: os.tmpdir(),
      CONCOURSE_BIND_IP: '127.0.0.1',
      CONCOURSE_BIND_PORT: String(options.port),
      CONCOURSE_ADD_LOCAL_USER: `${ADMIN.username}:${ADMIN.password},${PLAIN_USER.username}:${PLAIN_USER.password}`,
      CONCOURSE_MAIN_TEAM_LOCAL_USER: ADMIN.username,
      JETBRIDGE_DATA_DIR: options.dataDir,
      ...options.env,
    },
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  const node: CliNode = {
    child,
    url: `http://127.0.0.1:${options.port}`,
    logs: [],
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        node.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        node.logs.push({ raw: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (node.stderr += chunk.toString('utf8')));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exited = false;
  void node.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`jetbridge web exited at start: ${node.stderr}`);
    try {
      const res = await fetch(`${node.url}/api/v1/info`);
      await res.body?.cancel();
      if (res.status === 200) return node;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`jetbridge web did not listen within the time limit: ${node.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** SIGTERM and wait for the exit (SIGKILL after `graceMs`). */
export async function stopCliNode(node: CliNode, graceMs = 30_000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}
