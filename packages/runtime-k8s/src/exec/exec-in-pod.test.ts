import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeTestServer, V4_PROTOCOL, type KubeTestServer } from '@jetbridge/kube-test-server';
import {
  boundedStdinCommand,
  ExecAbortedError,
  ExecConnectionLostError,
  ExecFailedError,
  ExecProtocolError,
  ExecUpgradeError,
  ExecVerificationError,
  execInPod,
  type ExecInPodOptions,
} from './index.js';

const namespace = 'exec';
const pod = 'worker';
const MB = 1024 * 1024;

let server: KubeTestServer;
let v4Server: KubeTestServer;
let kubeConfig: KubeConfig;
let v4KubeConfig: KubeConfig;

async function startWorkerPod(target: KubeTestServer): Promise<void> {
  const response = await fetch(`${target.url}/api/v1/namespaces/${namespace}/pods`, {
    method: 'POST',
    headers: { authorization: 'Bearer exec-token', 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name: pod },
      spec: {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          {
            name: 'helper',
            image: 'busybox',
            command: ['sleep', 'infinity'],
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
          },
        ],
      },
    }),
  });
  expect(response.status).toBe(201);
  await target.waitForPod(namespace, pod, (current) => current.status.phase === 'Running');
}

function configFor(target: KubeTestServer): KubeConfig {
  const config = new KubeConfig();
  config.loadFromString(target.kubeConfigYaml(namespace));
  return config;
}

beforeAll(async () => {
  [server, v4Server] = await Promise.all([
    startKubeTestServer({ bearerToken: 'exec-token' }),
    startKubeTestServer({ bearerToken: 'exec-token', execProtocols: [V4_PROTOCOL] }),
  ]);
  kubeConfig = configFor(server);
  v4KubeConfig = configFor(v4Server);
  await Promise.all([startWorkerPod(server), startWorkerPod(v4Server)]);
});

afterAll(async () => {
  await Promise.all([server.close(), v4Server.close()]);
});

/** A Writable that keeps what it receives. */
function collector(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString('utf8') });
}

function exec(options: Partial<ExecInPodOptions> & Pick<ExecInPodOptions, 'command'>) {
  return execInPod({ kubeConfig, namespace, pod, container: 'helper', ...options });
}

/** Deterministic pseudo-random data of `total` bytes in 64 KiB chunks, counting how much has been pulled. */
function generated(
  total: number,
  seed = 'jetbridge',
): { stream: Readable; pulled(): number; sha256: string } {
  const block = createHash('sha512').update(seed).digest();
  const chunk = Buffer.alloc(64 * 1024);
  for (let offset = 0; offset < chunk.length; offset += block.length) block.copy(chunk, offset);
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += chunk.length)
    hash.update(chunk.subarray(0, Math.min(chunk.length, total - sent)));
  let pulled = 0;
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (pulled >= total) return void this.push(null);
      const size = Math.min(chunk.length, total - pulled);
      pulled += size;
      this.push(Buffer.from(chunk.subarray(0, size)));
    },
  });
  return { stream, pulled: () => pulled, sha256: hash.digest('hex') };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('execInPod over v5 and v4', () => {
  it.each([
    ['v5', () => kubeConfig],
    ['v4', () => v4KubeConfig],
  ] as const)(
    '%s: separates stdout and stderr and reads the exit code from the status frame',
    async (protocol, config) => {
      const stdout = collector();
      const stderr = collector();
      const result = await exec({
        kubeConfig: config(),
        command: ['sh', '-c', 'echo out-1; echo err-1 >&2; echo out-2; exit 0'],
        stdout,
        stderr,
      });
      expect(result).toMatchObject({ exitCode: 0, protocol, stdoutBytes: 12, stderrBytes: 6 });
      expect(stdout.text()).toBe('out-1\nout-2\n');
      expect(stderr.text()).toBe('err-1\n');

      const failing = await exec({
        kubeConfig: config(),
        command: ['sh', '-c', 'echo partial; exit 23'],
        stdout: collector(),
      });
      expect(failing.exitCode).toBe(23);
    },
  );

  it('v5: delivers stdin EOF with the half-close frame and still receives output and the exit status afterwards', async () => {
    const stdout = collector();
    const result = await exec({
      command: ['sh', '-c', 'cat; echo "after-eof"; exit 5'],
      stdin: Readable.from([Buffer.from('line one\n'), Buffer.from('line two\n')]),
      stdout,
    });
    expect(result).toMatchObject({ exitCode: 5, protocol: 'v5', stdinBytes: 18 });
    expect(stdout.text()).toBe('line one\nline two\nafter-eof\n');
    const session = server.execSessions().at(-1);
    expect(session?.stdinClosedByClient).toBe(true);
    expect(session?.protocol).toBe('v5.channel.k8s.io');
  });

  it('v4: refuses stdin that needs a half-close, and works with self-delimiting input (bounded by a byte count)', async () => {
    // Auto mode with stdin that needs EOF offers only v5: a v4-only server is a clear protocol failure.
    await expect(
      execInPod({
        kubeConfig: v4KubeConfig,
        namespace,
        pod,
        command: ['cat'],
        stdin: Readable.from([Buffer.from('x')]),
      }),
    ).rejects.toBeInstanceOf(ExecUpgradeError);
    await expect(
      execInPod({
        kubeConfig: v4KubeConfig,
        namespace,
        pod,
        command: ['cat'],
        protocol: 'v4',
        stdin: Readable.from([Buffer.from('x')]),
      }),
    ).rejects.toBeInstanceOf(ExecProtocolError);

    const payload = randomBytes(3 * MB + 17);
    const stdout = collector();
    const result = await execInPod({
      kubeConfig: v4KubeConfig,
      namespace,
      pod,
      command: boundedStdinCommand(['sh', '-c', 'sha256sum; echo done >&2; exit 6'], payload.length),
      stdin: Readable.from([payload]),
      stdinIsSelfDelimiting: true,
      stdout,
      stderr: collector(),
      expect: { stdinBytes: payload.length },
    });
    expect(result).toMatchObject({ exitCode: 6, protocol: 'v4', stdinBytes: payload.length });
    expect(stdout.text().split(' ')[0]).toBe(createHash('sha256').update(payload).digest('hex'));
  });
});

describe('large transfers, checksums and backpressure', () => {
  it('streams 50 MB through stdin to sha256sum with the checksum verified on both ends', async () => {
    const source = generated(50 * MB, 'stdin-50');
    const stdout = collector();
    const started = Date.now();
    const result = await exec({
      command: ['sha256sum'],
      stdin: source.stream,
      stdout,
      digest: true,
      expect: { stdinBytes: 50 * MB },
    });
    const seconds = (Date.now() - started) / 1000;
    expect(result.exitCode).toBe(0);
    expect(result.stdinSha256).toBe(source.sha256);
    expect(stdout.text().split(' ')[0]).toBe(source.sha256);
    process.stdout.write(`exec stdin 50 MB → sha256sum: ${(50 / seconds).toFixed(0)} MB/s\n`);
  });

  it('streams 50 MB out with byte count and sha256 verification; a wrong expectation is an error', async () => {
    const prepare = await exec({ command: ['sh', '-c', 'head -c 52428800 /dev/urandom > /scratch/big'] });
    expect(prepare.exitCode).toBe(0);
    const sums = collector();
    await exec({ command: ['sha256sum', '/scratch/big'], stdout: sums });
    const remoteSha = sums.text().split(' ')[0] ?? '';

    const started = Date.now();
    const result = await exec({
      command: ['cat', '/scratch/big'],
      stdout: collector(),
      expect: { stdoutBytes: 50 * MB, stdoutSha256: remoteSha },
    });
    const seconds = (Date.now() - started) / 1000;
    expect(result).toMatchObject({ exitCode: 0, stdoutBytes: 50 * MB, stdoutSha256: remoteSha });
    process.stdout.write(`exec stdout 50 MB ← cat: ${(50 / seconds).toFixed(0)} MB/s\n`);

    await expect(
      exec({ command: ['head', '-c', '1000', '/scratch/big'], expect: { stdoutSha256: 'f'.repeat(64) } }),
    ).rejects.toBeInstanceOf(ExecVerificationError);
    await expect(
      exec({ command: ['head', '-c', '1000', '/scratch/big'], expect: { stdoutBytes: 1001 } }),
    ).rejects.toThrow(/stdout byte count mismatch: expected 1001, got 1000/);
  });

  it('stops reading the stdin source while the remote side is not reading (bounded memory)', async () => {
    const source = generated(50 * MB, 'slow-reader');
    const running = exec({
      command: ['sh', '-c', 'sleep 2; wc -c'],
      stdin: source.stream,
      stdout: collector(),
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Without backpressure all 50 MB would be read into the socket buffer within milliseconds.
    const pulledWhileBlocked = source.pulled();
    expect(pulledWhileBlocked).toBeLessThan(24 * MB);
    const result = await running;
    expect(result).toMatchObject({ exitCode: 0, stdinBytes: 50 * MB });
    process.stdout.write(
      `stdin pulled while the remote was not reading: ${(pulledWhileBlocked / MB).toFixed(1)} MB\n`,
    );
  });

  it('pauses the socket while the stdout destination is full, so the server stops reading the process', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let received = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        void gate.then(() => callback());
      },
    });
    const running = exec({
      command: ['head', '-c', String(50 * MB), '/dev/zero'],
      stdout: slow,
      expect: { stdoutBytes: 50 * MB },
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const session = server.execSessions().at(-1);
    const forwardedWhileBlocked = session?.stdoutBytes ?? Infinity;
    // The server only forwards what fits in socket buffers before its own high-water mark pauses the process pipe.
    expect(forwardedWhileBlocked).toBeLessThan(16 * MB);
    expect(received).toBeLessThan(1 * MB);
    release();
    const result = await running;
    expect(result.stdoutBytes).toBe(50 * MB);
    process.stdout.write(
      `stdout forwarded by the server while the destination was full: ${(forwardedWhileBlocked / MB).toFixed(1)} MB\n`,
    );
  });
});

describe('failures are never successes', () => {
  it('a socket dropped mid-output rejects with ExecConnectionLostError', async () => {
    server.faults.dropExecSockets({ afterBytes: 100_000 });
    const stdout = collector();
    const error = await exec({ command: ['head', '-c', '1000000', '/dev/zero'], stdout }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExecConnectionLostError);
    expect((error as ExecConnectionLostError).bytes.stdout).toBeLessThanOrEqual(100_000);
    expect((error as Error).message).toMatch(/connection lost before the exit status/);
  });

  it('a socket dropped while sending stdin rejects too', async () => {
    server.faults.dropExecSockets({ afterBytes: 200_000, direction: 'stdin' });
    const source = generated(5 * MB, 'dropped-stdin');
    await expect(exec({ command: ['wc', '-c'], stdin: source.stream })).rejects.toBeInstanceOf(
      ExecConnectionLostError,
    );
  });

  it('refused upgrades carry the HTTP status and the server message', async () => {
    const missing = await exec({ pod: 'no-such-pod', command: ['true'] }).catch((caught: unknown) => caught);
    expect(missing).toBeInstanceOf(ExecUpgradeError);
    expect((missing as ExecUpgradeError).httpStatus).toBe(404);
    expect((missing as ExecUpgradeError).serverMessage).toBe('pods "no-such-pod" not found');

    server.faults.failNextRequests({ path: `/api/v1/namespaces/${namespace}/pods/${pod}/exec`, count: 1 });
    await expect(exec({ command: ['true'] })).rejects.toMatchObject({ httpStatus: 500 });
    expect((await exec({ command: ['true'] })).exitCode).toBe(0);

    const wrongToken = new KubeConfig();
    wrongToken.loadFromString(server.kubeConfigYaml(namespace).replace('exec-token', 'wrong-token'));
    await expect(exec({ kubeConfig: wrongToken, command: ['true'] })).rejects.toMatchObject({
      httpStatus: 401,
    });
  });

  it('a Failure status other than a non-zero exit (executable not found) rejects with ExecFailedError', async () => {
    const error = await exec({ command: ['no-such-binary'], killOnAbort: false }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExecFailedError);
    expect((error as ExecFailedError).reason).toBe('InternalError');
    expect((error as Error).message).toContain('executable file not found');
  });
});

describe('abort and liveness', () => {
  it('closing the socket alone leaves the remote process running (why abort needs a kill)', async () => {
    const controller = new AbortController();
    const running = exec({ command: ['sleep', '300'], signal: controller.signal, killOnAbort: false });
    const session = await waitForSession((each) => each.command.includes('300') && each.pid !== undefined);
    controller.abort();
    const error = await running.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExecAbortedError);
    expect((error as ExecAbortedError).remoteKilled).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pid = session.pid ?? -1;
    expect(processAlive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });

  it('abort kills the remote process through a second exec', async () => {
    const controller = new AbortController();
    const pidFile = '/tmp/abort-test.pid';
    const running = exec({
      command: ['sleep', '301'],
      signal: controller.signal,
      killOnAbort: { pidFile, graceMs: 1000 },
    });
    const session = await waitForSession((each) => each.command.includes('301') && each.pid !== undefined);
    const pid = session.pid ?? -1;
    // The wrapper recorded the same PID the server started (it execs the command in place).
    let recorded = '';
    for (let attempt = 0; attempt < 50 && recorded === ''; attempt += 1) {
      const out = collector();
      await exec({
        command: ['sh', '-c', `cat ${pidFile} 2>/dev/null || true`],
        stdout: out,
        killOnAbort: false,
      });
      recorded = out.text().trim();
      if (recorded === '') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Number(recorded)).toBe(pid);
    expect(processAlive(pid)).toBe(true);

    controller.abort();
    const error = await running.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExecAbortedError);
    expect((error as ExecAbortedError).remoteKilled).toBe(true);
    expect(processAlive(pid)).toBe(false);
  });

  it('an abort racing the start still kills the command (it never runs)', async () => {
    const controller = new AbortController();
    const marker = `/scratch/raced-${Date.now()}`;
    const running = exec({
      command: ['sh', '-c', `sleep 0.3; touch ${marker}; sleep 300`],
      signal: controller.signal,
    });
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(ExecAbortedError);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const check = await exec({ command: ['test', '-e', marker] });
    expect(check.exitCode).toBe(1);
  });

  it('sends WebSocket pings while a command runs', async () => {
    const result = await exec({ command: ['sleep', '1'], pingIntervalMs: 100 });
    expect(result.exitCode).toBe(0);
    expect(result.pingsSent).toBeGreaterThanOrEqual(5);
    const session = server.execSessions().at(-1);
    expect(session?.pingsReceived).toBeGreaterThanOrEqual(result.pingsSent - 1);
  });
});

async function waitForSession(
  predicate: (session: ReturnType<KubeTestServer['execSessions']>[number]) => boolean,
): Promise<ReturnType<KubeTestServer['execSessions']>[number]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = server.execSessions().find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('exec session did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
