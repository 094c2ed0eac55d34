#!/usr/bin/env node
// `pnpm soak --minutes N`: a bounded soak test of the web node (issue #9 item 5). Starts the built CLI
// exactly as `pnpm start` does (embedded PostgreSQL, local runtime, a fresh data directory), sets a pipeline
// whose job does get → task → put, and triggers it over and over (two builds at a time, each followed on its
// event stream) for N minutes, plus a `fly execute`-style one-off with an upload now and then. Every
// --sample-seconds it prints the node's RSS, its open file descriptors, its live handles (nodejs_active_handles
// from /metrics) and its step processes, each time with no build in flight, plus the node's own
// process.memoryUsage() (heapUsed, external, arrayBuffers) read right after a full collection (a preload, see
// MEMORY_PRELOAD). At the end it fits a least-squares line to each series after a warm-up of the first half of
// the run (at least 1 min), and fails when one grows faster than the stated slope:
//
//   JS memory      --max-js-slope      MB per minute      (default 2)   heapUsed + external after a full GC
//   RSS            --max-rss-slope     MB per minute      (default 10)  lower envelope, see below
//   file descriptors --max-fd-slope    per minute         (default 3)
//   active handles --max-handle-slope  per minute         (default 3)
//
// Why two memory limits: RSS keeps rising for a minute or two after start while heap and external stay flat
// (a 6-minute run: RSS +25 MB in the first minute, then under 1 MB/min, converging near 170 MB, while heapUsed
// stayed in its 57-74 MB sawtooth and external at 4-8 MB; after a forced full GC the live heap reads 53-55 MB
// throughout a 2-minute run). That is the allocator and V8's code space warming up, not a leak, and on a loaded CI
// machine it lasts longer (a CI run failed at 8.1 MB/min with a 30 s warm-up). So the tight check is on what a
// JS leak raises (objects kept alive, buffers, streams not destroyed): the live heap plus external memory,
// measured after a forced full collection so the GC sawtooth is out of it. RSS keeps a looser limit as a
// backstop for native leaks, which a longer `pnpm soak --minutes N --max-rss-slope M` judges more finely.
//
// The node runs with --max-old-space-size=<--heap-limit> (128 MB by default), so its collector keeps RSS near
// what is alive rather than letting the heap grow toward a far limit between collections.
//
// A build that does not succeed, or a node that dies, fails the soak too. Exit 0 = pass, 1 = fail, 2 = usage.
// The last line is a JSON summary (`SOAK-SUMMARY {...}`) for programs (the soak jest test reads it).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'apps/web/dist/cli.js');
const ADMIN = { username: 'admin', password: 'soak-admin-secret' };

function parseArgs(argv) {
  const options = {
    minutes: 5,
    sampleSeconds: 10,
    concurrency: 2,
    maxJsSlope: 2,
    maxRssSlope: 10,
    maxFdSlope: 3,
    maxHandleSlope: 3,
    heapLimitMb: 128,
    leakKbPerMin: 0,
  };
  const names = {
    '--minutes': 'minutes',
    '--sample-seconds': 'sampleSeconds',
    '--concurrency': 'concurrency',
    '--max-js-slope': 'maxJsSlope',
    '--max-rss-slope': 'maxRssSlope',
    '--max-fd-slope': 'maxFdSlope',
    '--max-handle-slope': 'maxHandleSlope',
    '--heap-limit': 'heapLimitMb',
    '--leak-kb-per-min': 'leakKbPerMin',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'usage: pnpm soak [--minutes N] [--sample-seconds S] [--concurrency C]\n' +
          '                 [--max-js-slope MB/min] [--max-rss-slope MB/min]\n' +
          '                 [--max-fd-slope per-min] [--max-handle-slope per-min]\n' +
          '                 [--heap-limit MB] [--leak-kb-per-min KB (a deliberate leak, to check the soak)]\n',
      );
      process.exit(0);
    }
    const [flag, inline] = arg.split('=', 2);
    const key = names[flag];
    const value = Number(inline ?? argv[++i]);
    if (key === undefined || !Number.isFinite(value) || value <= 0) {
      process.stderr.write(`soak: bad argument ${arg} (try --help)\n`);
      process.exit(2);
    }
    options[key] = value;
  }
  return options;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Minimal HTTP client: JSON or text bodies, no keep-alive (the soak counts the node's sockets). */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined && typeof body.pipe === 'function') body.pipe(req);
    else req.end(body);
  });
}

class Client {
  constructor(url) {
    this.url = url;
    this.token = '';
  }
  headers(extra = {}) {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }
  async login() {
    const res = await request(`${this.url}/sky/issuer/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('fly:Zmx5').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'password',
        username: ADMIN.username,
        password: ADMIN.password,
        scope: 'openid profile email federated:id groups',
      }).toString(),
    });
    if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
    this.token = res.json().access_token;
  }
  async call(pathname, method = 'GET', json) {
    const res = await request(`${this.url}${pathname}`, {
      method,
      headers: this.headers(json === undefined ? {} : { 'content-type': 'application/json' }),
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    if (res.status >= 400) throw new Error(`${method} ${pathname}: ${res.status} ${res.text}`);
    return res;
  }
  /** Read a build's event stream to its end; the statuses seen. */
  events(buildId) {
    return new Promise((resolve, reject) => {
      const req = http.get(
        `${this.url}/api/v1/builds/${buildId}/events`,
        { headers: this.headers({ accept: 'text/event-stream' }), agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`events ${buildId}: ${res.statusCode}`));
            return;
          }
          let buffer = '';
          const statuses = [];
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            buffer += chunk;
            let end;
            while ((end = buffer.indexOf('\n\n')) !== -1) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (/^event: end$/m.test(frame)) {
                res.destroy();
                resolve(statuses);
                return;
              }
              const data = /^data: (.*)$/m.exec(frame)?.[1];
              if (data) {
                const event = JSON.parse(data);
                if (event.event === 'status') statuses.push(event.data.status);
              }
            }
          });
          res.on('error', reject);
          res.on('close', () => resolve(statuses));
        },
      );
      req.on('error', reject);
    });
  }
}

const PIPELINE = `
resources:
- name: source
  type: mock
  check_every: never
  source: {initial_version: v1}
- name: artifact
  type: mock
  check_every: never
  source: {no_initial_version: true}
jobs:
- name: soak
  max_in_flight: 100
  plan:
  - get: source
  - task: derive
    config:
      platform: linux
      inputs: [{name: source}]
      outputs: [{name: built}]
      run:
        path: sh
        args: [-ec, 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; done; printf "%s-$RANDOM$RANDOM" "$(cat source/version)" > built/version']
  - put: artifact
    params: {file: built/version}
`;

async function setUp(client) {
  const configPath = '/api/v1/teams/main/pipelines/soak/config';
  const current = await request(`${client.url}${configPath}`, { headers: client.headers() });
  const version = current.status === 200 ? (current.headers['x-concourse-config-version'] ?? '') : '';
  const saved = await request(`${client.url}${configPath}`, {
    method: 'PUT',
    headers: client.headers({ 'content-type': 'application/x-yaml', 'x-concourse-config-version': version }),
    body: PIPELINE,
  });
  if (saved.status !== 200 && saved.status !== 201)
    throw new Error(`set pipeline: ${saved.status} ${saved.text}`);
  await client.call('/api/v1/teams/main/pipelines/soak/unpause', 'PUT');
  const check = await client.call('/api/v1/teams/main/pipelines/soak/resources/source/check', 'POST', {
    from: null,
  });
  await waitFinished(client, check.json().id);
}

async function waitFinished(client, buildId) {
  for (;;) {
    const build = (await client.call(`/api/v1/builds/${buildId}`)).json();
    if (['succeeded', 'failed', 'errored', 'aborted'].includes(build.status)) return build.status;
    await sleep(200);
  }
}

async function jobBuild(client) {
  const build = (await client.call('/api/v1/teams/main/pipelines/soak/jobs/soak/builds', 'POST')).json();
  const statuses = await client.events(build.id);
  const status = await waitFinished(client, build.id);
  return status === 'succeeded' && statuses.at(-1) === 'succeeded' ? 'succeeded' : `${status} (${build.id})`;
}

/** `fly execute -i in=<dir>`: upload a small tar.gz, run a task reading it, follow its events. */
async function executeBuild(client, scratch) {
  const dir = path.join(scratch, 'input');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'file'), `soak ${Date.now()}\n`);
  const tar = spawn('tar', ['-czf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const upload = await request(`${client.url}/api/v1/teams/main/artifacts?platform=linux`, {
    method: 'POST',
    headers: client.headers({ 'content-type': 'application/octet-stream' }),
    body: tar.stdout,
  });
  if (upload.status !== 201) return `upload ${upload.status}`;
  const id = (n) => `${Date.now().toString(16)}${n}`;
  const plan = {
    id: id(1),
    do: [
      {
        id: id(2),
        in_parallel: {
          steps: [{ id: id(3), artifact_input: { artifact_id: upload.json().id, name: 'in' } }],
        },
      },
      {
        id: id(4),
        task: {
          name: 'one-off',
          privileged: false,
          hermetic: false,
          config: { platform: 'linux', inputs: [{ name: 'in' }], run: { path: 'cat', args: ['in/file'] } },
        },
      },
    ],
  };
  const build = (await client.call('/api/v1/teams/main/builds', 'POST', plan)).json();
  const statuses = await client.events(build.id);
  return statuses.at(-1) === 'succeeded' ? 'succeeded' : `${statuses.join(',')} (${build.id})`;
}

async function descendants(pid) {
  const parents = new Map();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      parents.set(Number(entry), { ppid: Number(stat.slice(close + 2).split(' ')[1]), comm });
    } catch {
      // gone
    }
  }
  let count = 0;
  const walk = (parent) => {
    for (const [child, info] of parents) {
      if (info.ppid !== parent || info.comm === 'postgres') continue;
      count++;
      walk(child);
    }
  };
  walk(pid);
  return count;
}

/**
 * A preload for the node (`--require`): on SIGUSR2 it writes process.memoryUsage() to a file beside it, so the
 * soak sees heapUsed, external and arrayBuffers (JS-visible memory) next to RSS. A signal rather than a timer,
 * so it adds no handle that comes and goes between samples.
 */
const MEMORY_PRELOAD = `
const { writeFileSync, renameSync } = require('node:fs');
const file = process.env.JETBRIDGE_SOAK_MEMORY_FILE;
process.on('SIGUSR2', () => {
  // A full collection first (the node runs with --expose-gc), so heapUsed is what is alive, not the sawtooth.
  if (typeof gc === 'function') gc();
  writeFileSync(file + '.tmp', JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
  renameSync(file + '.tmp', file);
});
// --leak-kb-per-min (checking the soak itself): retain that much memory every minute, a leak it must report.
const leakKbPerMin = Number(process.env.JETBRIDGE_SOAK_LEAK_KB_PER_MIN ?? 0);
if (leakKbPerMin > 0) {
  const kept = [];
  setInterval(() => kept.push(Buffer.alloc(Math.ceil((leakKbPerMin * 1024) / 60), 1)), 1000);
}
`;

/** Ask the node for its process.memoryUsage() (see MEMORY_PRELOAD); undefined when it does not answer. */
async function memoryUsage(node, file) {
  const asked = Date.now();
  node.kill('SIGUSR2');
  for (let i = 0; i < 40; i++) {
    await sleep(25);
    try {
      const usage = JSON.parse(await readFile(file, 'utf8'));
      if (usage.at >= asked) return usage;
    } catch {
      // not written yet
    }
  }
  return undefined;
}

async function sample(node, client, startedAt, memoryFile) {
  const usage = await memoryUsage(node, memoryFile);
  const mb = (bytes) => (bytes === undefined ? NaN : bytes / 1024 / 1024);
  const status = await readFile(`/proc/${node.pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const fds = (await readdir(`/proc/${node.pid}/fd`)).length;
  const metrics = await request(`${client.url}/metrics`).then(
    (res) => res.text,
    () => '',
  );
  const handles = Number(/^nodejs_active_handles_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
  return {
    minute: (Date.now() - startedAt) / 60_000,
    rssMb: rssKb / 1024,
    heapMb: mb(usage?.heapUsed),
    externalMb: mb(usage?.external),
    arrayBuffersMb: mb(usage?.arrayBuffers),
    // JS-visible memory: the live heap plus memory held by JS objects outside it (buffers, zlib, ...).
    jsMb: mb(usage?.heapUsed) + mb(usage?.external),
    fds,
    handles,
    processes: await descendants(node.pid),
  };
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (sxx === 0) return 0;
  return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) {
    process.stderr.write(`soak: ${CLI} is missing; build first (pnpm build)\n`);
    process.exit(2);
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-soak-'));
  const scratch = path.join(dataDir, 'scratch');
  const port = await freePort();
  await mkdir(scratch, { recursive: true });
  const preload = path.join(scratch, 'soak-memory-preload.cjs');
  const memoryFile = path.join(scratch, 'memory.json');
  await writeFile(preload, MEMORY_PRELOAD);
  const node = spawn(process.execPath, [CLI, 'web'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      CONCOURSE_BIND_IP: '127.0.0.1',
      CONCOURSE_BIND_PORT: String(port),
      CONCOURSE_ADD_LOCAL_USER: `${ADMIN.username}:${ADMIN.password}`,
      CONCOURSE_MAIN_TEAM_LOCAL_USER: ADMIN.username,
      CONCOURSE_LOG_LEVEL: 'error',
      // Collect finished builds' containers and volumes within the soak, so steady state is reachable.
      CONCOURSE_GC_INTERVAL: '10s',
      CONCOURSE_GC_ONE_OFF_GRACE_PERIOD: '10s',
      JETBRIDGE_GC_ARTIFACT_RETENTION: '30s',
      JETBRIDGE_DATA_DIR: dataDir,
      // A bounded old generation makes the collector run often, so RSS shows what stays alive (a leak then
      // also ends in an out-of-memory exit, which fails the soak) instead of a heap growing toward its limit.
      NODE_OPTIONS: `--max-old-space-size=${options.heapLimitMb} --expose-gc --require ${preload}`,
      JETBRIDGE_SOAK_MEMORY_FILE: memoryFile,
      JETBRIDGE_SOAK_LEAK_KB_PER_MIN: String(options.leakKbPerMin),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let nodeLog = '';
  node.stdout.on('data', (chunk) => (nodeLog = (nodeLog + chunk.toString()).slice(-20_000)));
  node.stderr.on('data', (chunk) => (nodeLog = (nodeLog + chunk.toString()).slice(-20_000)));
  let exited = false;
  const exitedPromise = new Promise((resolve) =>
    node.on('exit', (code, signal) => resolve({ code, signal })),
  );
  void exitedPromise.then(() => (exited = true));

  const failures = [];
  const samples = [];
  let builds = 0;
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    const readyBy = Date.now() + 90_000;
    for (;;) {
      if (exited) throw new Error(`the web node exited at start:\n${nodeLog}`);
      const up = await request(`${client.url}/api/v1/info`).then(
        (res) => res.status === 200,
        () => false,
      );
      if (up) break;
      if (Date.now() > readyBy) throw new Error(`the web node did not start:\n${nodeLog}`);
      await sleep(250);
    }
    await client.login();
    await setUp(client);

    const startedAt = Date.now();
    const endAt = startedAt + options.minutes * 60_000;
    process.stdout.write(
      `soak: ${options.minutes} min against pid ${node.pid}, sampling every ${options.sampleSeconds} s\n`,
    );
    process.stdout.write('minute   rss(MB)  heap(MB)  ext(MB)  abuf(MB)  fds  handles  steps  builds\n');
    // Samples are taken with no build in flight: the drivers hold off while the sampler waits for the running
    // builds to end (and their sockets to close), so descriptors and handles are counted at rest.
    let holdOff;
    let inFlight = 0;
    const quiesce = async () => {
      let release;
      holdOff = new Promise((resolve) => (release = resolve));
      const deadline = Date.now() + 30_000;
      while (inFlight > 0 && Date.now() < deadline) await sleep(50);
      await sleep(500);
      return () => {
        holdOff = undefined;
        release();
      };
    };
    const sampler = (async () => {
      while (Date.now() < endAt && !exited) {
        const resume = await quiesce();
        const point = await sample(node, client, startedAt, memoryFile).catch((err) => {
          failures.push(`sampling failed: ${err.message}`);
          return undefined;
        });
        resume();
        if (point) {
          samples.push(point);
          process.stdout.write(
            `${point.minute.toFixed(2).padStart(6)}  ${point.rssMb.toFixed(1).padStart(8)}  ${point.heapMb.toFixed(1).padStart(8)}  ${point.externalMb.toFixed(1).padStart(7)}  ${point.arrayBuffersMb.toFixed(1).padStart(8)}  ${String(point.fds).padStart(3)}  ${String(point.handles).padStart(7)}  ${String(point.processes).padStart(5)}  ${String(builds).padStart(6)}\n`,
          );
        }
        await sleep(options.sampleSeconds * 1000);
      }
    })();
    const worker = async (index) => {
      let round = 0;
      while (Date.now() < endAt && !exited && failures.length < 5) {
        round++;
        while (holdOff) await holdOff;
        if (Date.now() >= endAt) break;
        inFlight++;
        // Every fifth build of the first worker is a one-off with an upload; the rest are job builds.
        const result = await (
          index === 0 && round % 5 === 0 ? executeBuild(client, scratch) : jobBuild(client)
        ).finally(() => inFlight--);
        builds++;
        if (result !== 'succeeded') failures.push(`build did not succeed: ${result}`);
      }
    };
    await Promise.all([
      sampler,
      ...Array.from({ length: options.concurrency }, (_, i) =>
        worker(i).catch((err) => failures.push(`driver failed: ${err.message}`)),
      ),
    ]);
    if (exited) failures.push(`the web node exited during the soak:\n${nodeLog}`);

    const warmUp = Math.max(1, options.minutes * 0.5);
    const steady = samples.filter((p) => p.minute >= warmUp);
    // Descriptors and handles are counted at rest: a plain fit. Memory is fitted to its lower envelope (each
    // sample replaced by the least of the samples within 15 s either side of it): RSS follows the collector's
    // sawtooth and external memory what the last builds left for the next collection, so only a leak raises
    // the floor they return to. A centred window keeps the whole steady part in the fit (with a 1-minute
    // steady part, a window looking 30 s ahead left half a minute to fit, and a 3 MB/min leak read 1.1 MB/min).
    const fit = (key) => slope(steady.map((p) => ({ x: p.minute, y: p[key] })));
    const envelope = (key) =>
      steady.map((p) => ({
        x: p.minute,
        y: Math.min(...steady.filter((q) => Math.abs(q.minute - p.minute) <= 0.25).map((q) => q[key])),
      }));
    const jsEnvelope = envelope('jsMb');
    const slopes = {
      jsMbPerMin: slope(jsEnvelope),
      rssMbPerMin: slope(envelope('rssMb')),
      fdsPerMin: fit('fds'),
      handlesPerMin: fit('handles'),
    };
    if (jsEnvelope.some((p) => !Number.isFinite(p.y)))
      failures.push('the node did not report its memory usage (the soak preload did not answer SIGUSR2)');
    if (jsEnvelope.length < 3)
      failures.push(`too few samples after the warm-up (${steady.length}); soak longer`);
    if (slopes.jsMbPerMin > options.maxJsSlope)
      failures.push(`JS memory grows ${slopes.jsMbPerMin.toFixed(2)} MB/min > ${options.maxJsSlope}`);
    if (slopes.rssMbPerMin > options.maxRssSlope)
      failures.push(`RSS grows ${slopes.rssMbPerMin.toFixed(2)} MB/min > ${options.maxRssSlope}`);
    if (slopes.fdsPerMin > options.maxFdSlope)
      failures.push(`file descriptors grow ${slopes.fdsPerMin.toFixed(2)}/min > ${options.maxFdSlope}`);
    if (slopes.handlesPerMin > options.maxHandleSlope)
      failures.push(`active handles grow ${slopes.handlesPerMin.toFixed(2)}/min > ${options.maxHandleSlope}`);
    const last = samples.at(-1);
    const summary = {
      pass: failures.length === 0,
      minutes: options.minutes,
      builds,
      samples: samples.length,
      warmUpMinutes: warmUp,
      slopes,
      limits: {
        jsMbPerMin: options.maxJsSlope,
        rssMbPerMin: options.maxRssSlope,
        fdsPerMin: options.maxFdSlope,
        handlesPerMin: options.maxHandleSlope,
      },
      last,
      failures,
    };
    process.stdout.write(
      `soak: ${builds} builds; slopes after ${warmUp} min: JS memory ${slopes.jsMbPerMin.toFixed(2)} MB/min ` +
        `(limit ${options.maxJsSlope}), RSS ${slopes.rssMbPerMin.toFixed(2)} MB/min ` +
        `(limit ${options.maxRssSlope}), fds ${slopes.fdsPerMin.toFixed(2)}/min (limit ${options.maxFdSlope}), ` +
        `handles ${slopes.handlesPerMin.toFixed(2)}/min (limit ${options.maxHandleSlope})\n`,
    );
    for (const failure of failures) process.stdout.write(`soak FAIL: ${failure}\n`);
    process.stdout.write(`SOAK-SUMMARY ${JSON.stringify(summary)}\n`);
    return summary.pass ? 0 : 1;
  } finally {
    if (!exited) {
      node.kill('SIGTERM');
      const timer = setTimeout(() => node.kill('SIGKILL'), 30_000);
      await exitedPromise;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
