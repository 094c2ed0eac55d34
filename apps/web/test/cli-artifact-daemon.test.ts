// `jetbridge artifact-daemon`: the web image's CLI runs a node's artifact daemon (what the chart's DaemonSet
// runs), with the daemon's own flags and environment; it stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

// The built CLI, as the image runs it (`tini -- node /opt/jetbridge/dist/cli.js artifact-daemon`).
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');
const KEY = 'capability-key-shared-with-the-web-0123456789';

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return {
    child,
    output: () => output,
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

describe('jetbridge artifact-daemon', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-daemon-cli-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('serves the node from the chart’s environment, refuses requests without a capability, stops on SIGTERM', async () => {
    const port = await freePort();
    const run = runCli(['artifact-daemon'], {
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_BIND_IP: '127.0.0.1',
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: String(port),
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: root,
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: KEY,
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_MIN_AVAILABLE_BYTES: '0',
      NODE_NAME: 'node-under-test',
    });
    try {
      const deadline = Date.now() + 30_000;
      while (!run.output().includes('artifact daemon listening')) {
        if (Date.now() > deadline || run.child.exitCode !== null)
          throw new Error(`the daemon did not start:\n${run.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ node: 'node-under-test', ready: true });
      expect((await fetch(`http://127.0.0.1:${port}/artifacts`)).status).toBe(401);
      expect(run.output()).not.toContain(KEY);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
  });

  it('exits 2 naming the flag of a bad setting, never echoing the key', async () => {
    const run = runCli(['artifact-daemon', `--host-path=${root}`], {
      CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: 'too-short-key',
    });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('--capability-key');
    expect(run.output()).toContain('at least 32 bytes');
    expect(run.output()).not.toContain('too-short-key');
  });

  it('lists the command in the top-level help', async () => {
    const run = runCli(['--help'], {});
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/artifact-daemon\s+Run a node's artifact daemon/);
  });
});
