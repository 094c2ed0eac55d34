// `fly execute` through a real JetBridge (the built @jetbridge/web, embedded PostgreSQL, local runtime, in a
// temporary data directory), driven over HTTP the way fly drives it: upload the input as a gzip'd tar, create
// the one-off build with fly's plan, stream its events to the end, list its artifacts, download the output.
//
// Figures:
// - a trivial round trip (one tiny input, `cp -r` to the output): median wall time of RUNS runs;
// - a 200 MB incompressible input (a few files) through upload → task `cp -r` → download: median wall time,
//   and the ratio to a plain `tar c | tar x` pipe of the same data timed in the same run (pipe / JetBridge).
//   A round trip moves the data three times (upload, the task's copy, download) where the pipe moves it
//   once, so the same ratio against the three moves done by plain tools is printed too.
//
// The server runs in a child process (fly and the ATC are separate processes; sharing one event loop would
// bill the client's work to the server). The client gzips the tiny upload at zlib's default level, as fly
// does, and the big one at level 0 (see bigRoundTrip); the server stores incompressible windows of downloads.
// This machine's noise applies: medians, the load average printed with them, and the data is in the page
// cache for the pipe and for JetBridge alike. `BENCH_RUNS`, `BENCH_BIG_MB` and `BENCH_BIG_RUNS` override the
// sizes.
import { fork, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WARMUP = 2;
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 200);
const BIG_FILES = 4;
const BIG_RUNS = Number(process.env.BENCH_BIG_RUNS ?? 3);
const USER = { username: 'bench', password: 'bench-password' };

/** The child: one JetBridge on the embedded default, until the parent says stop. */
async function serve(dataDir) {
  const webDist = new URL('../apps/web/dist/index.js', import.meta.url);
  const { parseWebConfig, startJetBridge } = await import(webDist.href);
  const config = parseWebConfig([], {
    CONCOURSE_BIND_IP: '127.0.0.1',
    CONCOURSE_BIND_PORT: '0',
    CONCOURSE_LOG_LEVEL: 'error',
    CONCOURSE_ADD_LOCAL_USER: `${USER.username}:${USER.password}`,
    CONCOURSE_MAIN_TEAM_LOCAL_USER: USER.username,
    JETBRIDGE_DATA_DIR: dataDir,
  });
  const server = await startJetBridge(config, {
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  process.on('message', async (message) => {
    if (message !== 'stop') return;
    await server.close();
    process.exit(0);
  });
  process.send({ url: server.url });
}

async function bench() {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-bench-execute-'));
  // A directory of its own: as root, the embedded PostgreSQL runs as `postgres`, who cannot enter `scratch`.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-bench-data-'));
  const child = fork(fileURLToPath(import.meta.url), ['--server', dataDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  try {
    const started = await Promise.race([once(child, 'message'), exited.then(() => undefined)]);
    if (started === undefined) throw new Error('the JetBridge server did not start');
    const [{ url }] = started;
    const client = new ExecuteClient(url, await login(url));
    progress(
      `${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}`,
    );
    await trivialRoundTrip(client, scratch);
    await bigRoundTrip(client, scratch);
  } finally {
    if (child.connected) child.send('stop');
    await exited;
    await rm(scratch, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function trivialRoundTrip(client, scratch) {
  const input = path.join(scratch, 'tiny-input');
  await mkdir(input);
  await writeFile(path.join(input, 'hello.txt'), 'hello\n');
  const times = [];
  const stages = [];
  for (let run = 0; run < WARMUP + RUNS; run++) {
    const output = path.join(scratch, `tiny-output-${run}`);
    await mkdir(output);
    const result = await client.execute(input, output, { gzipLevel: zlib.constants.Z_DEFAULT_COMPRESSION });
    if (run >= WARMUP) {
      times.push(result.totalMs);
      stages.push(result.stages);
    }
    await rm(output, { recursive: true });
  }
  progress(`trivial round trip stages (median ms): ${describeStages(stages)}`);
  figure(
    `fly execute round trip, tiny input (median of ${RUNS})`,
    `${median(times).toFixed(0)} ms`,
    '< 300 ms',
  );
}

async function bigRoundTrip(client, scratch) {
  const input = path.join(scratch, 'big-input');
  await makeIncompressibleTree(input, BIG_MB, BIG_FILES);
  const jetbridge = [];
  const pipeTimes = [];
  const plainToolTimes = [];
  const stages = [];
  for (let run = 0; run < BIG_RUNS; run++) {
    // Alternate which goes first, so neither always finds the other's pages warm.
    const pipeFirst = run % 2 === 0;
    if (pipeFirst) pipeTimes.push(await timePipe(input, scratch));
    const output = path.join(scratch, `big-output-${run}`);
    await mkdir(output);
    // fly's Go gzip would spend most of the time compressing incompressible data; a client that knows its
    // data stores it (gzip level 0) instead, so the figure is about JetBridge and not about the client.
    const result = await client.execute(input, output, { gzipLevel: 0 });
    jetbridge.push(result.totalMs);
    stages.push(result.stages);
    const copied = await treeSize(output);
    if (copied !== BIG_MB * 1024 * 1024)
      throw new Error(`the output holds ${copied} bytes, not ${BIG_MB} MB`);
    await rm(output, { recursive: true });
    if (!pipeFirst) pipeTimes.push(await timePipe(input, scratch));
    plainToolTimes.push(await timePlainTools(input, scratch));
  }
  const jetbridgeMs = median(jetbridge);
  progress(
    `load average ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}`,
  );
  progress(`${BIG_MB} MB round trip stages (median ms): ${describeStages(stages)}`);
  progress(
    `${BIG_MB} MB: JetBridge ${jetbridgeMs.toFixed(0)} ms, tar c | tar x ${median(pipeTimes).toFixed(0)} ms, ` +
      `tar|tar + cp -r + tar|tar ${median(plainToolTimes).toFixed(0)} ms (medians of ${BIG_RUNS})`,
  );
  figure(
    `fly execute ${BIG_MB} MB in → cp -r → out (median of ${BIG_RUNS})`,
    `${(jetbridgeMs / 1000).toFixed(2)} s`,
    '',
  );
  figure(`  ratio tar c | tar x pipe / JetBridge`, (median(pipeTimes) / jetbridgeMs).toFixed(2), '≥ 0.7');
  figure(
    `  ratio same three moves by plain tools / JetBridge`,
    (median(plainToolTimes) / jetbridgeMs).toFixed(2),
    '(context)',
  );
}

/** What fly does for `fly execute -c task.yml -i in=<input> -o out=<output>`, timed by stage. */
class ExecuteClient {
  constructor(url, token) {
    this.url = url;
    this.headers = { authorization: `Bearer ${token}` };
  }

  async execute(input, output, { gzipLevel }) {
    const stages = {};
    const start = performance.now();
    let mark = start;
    const stage = (name) => {
      const now = performance.now();
      stages[name] = now - mark;
      mark = now;
    };

    const artifactId = await this.upload(input, gzipLevel);
    stage('upload');
    const build = await this.json('POST', '/api/v1/teams/main/builds', executePlan(artifactId));
    stage('create');
    const status = await this.streamEventsToEnd(build.id);
    if (status !== 'succeeded') throw new Error(`build ${build.id} ${status}`);
    stage('events');
    const artifacts = await this.json('GET', `/api/v1/builds/${build.id}/artifacts`);
    const out = artifacts.find((artifact) => artifact.name === 'out');
    if (out === undefined) throw new Error(`build ${build.id} registered no output`);
    stage('list');
    await this.download(out.id, output);
    stage('download');
    return { totalMs: performance.now() - start, stages };
  }

  /** `tar c` of the directory, gzip'd, POSTed chunked like go-concourse's upload. */
  async upload(dir, gzipLevel) {
    const tar = spawn('tar', ['-cf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const request = http.request(`${this.url}/api/v1/teams/main/artifacts`, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/octet-stream' },
    });
    const answered = once(request, 'response');
    await pipeline(tar.stdout, zlib.createGzip({ level: gzipLevel, chunkSize: 256 * 1024 }), request);
    const [response] = await answered;
    const body = await text(response);
    if (response.statusCode !== 201) throw new Error(`upload: ${response.statusCode} ${body}`);
    return JSON.parse(body).id;
  }

  /** Read `GET /builds/:id/events` until its `end` frame; the last status seen. */
  async streamEventsToEnd(buildId) {
    const response = await get(`${this.url}/api/v1/builds/${buildId}/events`, {
      ...this.headers,
      accept: 'text/event-stream',
    });
    if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode}`);
    let buffered = '';
    let status;
    try {
      for await (const chunk of response) {
        buffered += chunk.toString('utf8');
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (/^event: end$/m.test(frame)) return status;
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          const event = data === undefined ? undefined : JSON.parse(data);
          if (event?.event === 'status') status = event.data.status;
        }
      }
    } finally {
      response.destroy();
    }
    throw new Error(`the event stream of build ${buildId} ended without an end frame`);
  }

  /** gunzip (as fly does, in-process) into `tar x`. node:http, not fetch: a web stream fed to zlib crawls. */
  async download(artifactId, dir) {
    const response = await get(`${this.url}/api/v1/teams/main/artifacts/${artifactId}`, this.headers);
    if (response.statusCode !== 200)
      throw new Error(`download: ${response.statusCode} ${await text(response)}`);
    const tar = spawn('tar', ['-xf', '-', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
    const exited = once(tar, 'close');
    await pipeline(response, zlib.createGunzip({ chunkSize: 256 * 1024 }), tar.stdin);
    const [code] = await exited;
    if (code !== 0) throw new Error(`tar -x exited ${code}`);
  }

  async json(method, urlPath, body) {
    const response = await fetch(`${this.url}${urlPath}`, {
      method,
      headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status >= 300)
      throw new Error(`${method} ${urlPath}: ${response.status} ${await response.text()}`);
    return response.json();
  }
}

function get(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, resolve).on('error', reject);
  });
}

async function text(response) {
  let body = '';
  for await (const chunk of response) body += chunk;
  return body;
}

let planId = Math.floor(Date.now() / 1000);
/** fly execute's plan (concourse-api.md §4.2): ensure(do[in_parallel[artifact_input], task], outputs). */
function executePlan(artifactId) {
  const id = () => (planId++).toString(16);
  const task = {
    id: id(),
    task: {
      name: 'one-off',
      privileged: false,
      config: {
        platform: process.platform,
        inputs: [{ name: 'in' }],
        outputs: [{ name: 'out' }],
        run: { path: 'cp', args: ['-r', 'in/.', 'out/'] },
      },
    },
  };
  const inputs = {
    id: id(),
    in_parallel: { steps: [{ id: id(), artifact_input: { artifact_id: artifactId, name: 'in' } }] },
  };
  return {
    id: id(),
    ensure: {
      step: { id: id(), do: [inputs, task] },
      ensure: { id: id(), in_parallel: { steps: [{ id: id(), artifact_output: { name: 'out' } }] } },
    },
  };
}

async function login(url) {
  const response = await fetch(`${url}/sky/issuer/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('fly:Zmx5').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'password',
      username: USER.username,
      password: USER.password,
      scope: 'openid profile email federated:id groups',
    }),
  });
  if (response.status !== 200) throw new Error(`login: ${response.status}`);
  return (await response.json()).access_token;
}

/** `files` files of random bytes totalling `megabytes`, in a nested directory. */
async function makeIncompressibleTree(dir, megabytes, files) {
  await mkdir(path.join(dir, 'nested'), { recursive: true });
  const chunk = Buffer.alloc(1024 * 1024);
  const perFile = megabytes / files;
  for (let file = 0; file < files; file++) {
    const out = createWriteStream(path.join(dir, file % 2 === 0 ? '' : 'nested', `blob-${file}.bin`));
    for (let mb = 0; mb < perFile; mb++) {
      randomFillSync(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
  }
}

async function timePipe(input, scratch) {
  const target = path.join(scratch, 'pipe-output');
  await mkdir(target);
  const start = performance.now();
  await sh(`tar -cf - -C '${input}' . | tar -xf - -C '${target}'`);
  const elapsed = performance.now() - start;
  await rm(target, { recursive: true });
  return elapsed;
}

/** The round trip's three moves with plain tools: tar|tar in, the task's cp -r, tar|tar out. */
async function timePlainTools(input, scratch) {
  const [a, b, c] = ['plain-a', 'plain-b', 'plain-c'].map((name) => path.join(scratch, name));
  for (const dir of [a, b, c]) await mkdir(dir);
  const start = performance.now();
  await sh(
    `tar -cf - -C '${input}' . | tar -xf - -C '${a}' && cp -r '${a}/.' '${b}/' && tar -cf - -C '${b}' . | tar -xf - -C '${c}'`,
  );
  const elapsed = performance.now() - start;
  for (const dir of [a, b, c]) await rm(dir, { recursive: true });
  return elapsed;
}

async function sh(script) {
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`${script}: exit ${code}`);
}

async function treeSize(dir) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath ?? entry.path, entry.name))).size;
  }
  return total;
}

function describeStages(runs) {
  return Object.keys(runs[0] ?? {})
    .map((name) => `${name} ${median(runs.map((run) => run[name])).toFixed(0)}`)
    .join(', ');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function figure(name, value, target) {
  process.stdout.write(`BENCH-FIGURE ${JSON.stringify({ figure: name, value, target })}\n`);
}

function progress(message) {
  process.stdout.write(`${message}\n`);
}

// Last, so that every declaration above is initialized.
if (process.argv[2] === '--server') await serve(process.argv[3]);
else await bench();
