// What every JetBridge bench needs: a real JetBridge (the built @jetbridge/web, embedded PostgreSQL, local
// runtime, a temporary data directory) in a child process, a logged-in client, and the BENCH-FIGURE protocol
// of bench/run.js. The server runs apart from the bench (fly and the ATC are separate processes; sharing
// one event loop would bill the client's work to the server) and answers the bench's questions about
// itself (CPU time, RSS) over IPC.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The user every bench server has, member of `main`. */
export const USER = { username: 'bench', password: 'bench-password' };
const SERVER_FLAG = '--jetbridge-bench-server';

/**
 * Node flags of the process playing the web: none, as the product starts the web (Dockerfile.build,
 * `pnpm start`), unless `BENCH_WEB_NODE_FLAGS` (space-separated) gives some — to compare V8 settings on the
 * server alone (NODE_OPTIONS would change the bench's client processes too).
 */
export function webNodeFlags() {
  const flags = process.env.BENCH_WEB_NODE_FLAGS;
  return flags === undefined ? [] : flags.split(/\s+/).filter((flag) => flag.length > 0);
}

/**
 * Start a JetBridge for a bench. `BENCH_PROFILE_DIR=<dir>` writes a CPU profile of the server there (open it
 * in Chrome's DevTools) to see where the time goes.
 */
export async function startJetBridge() {
  // A directory of its own: as root, the embedded PostgreSQL runs as `postgres`, who cannot enter others.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-bench-data-'));
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const child = fork(fileURLToPath(import.meta.url), [SERVER_FLAG, dataDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...webNodeFlags(), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.connected) child.send({ ask: 'stop' });
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const started = await Promise.race([once(child, 'message'), exited.then(() => undefined)]);
    if (started === undefined) throw new Error('the JetBridge server did not start');
    const [{ url }] = started;
    const ask = async (question) => {
      child.send({ ask: question });
      for (;;) {
        const [message] = await once(child, 'message');
        if (message?.answer === question) return message.value;
      }
    };
    return {
      url,
      pid: child.pid,
      token: await login(url),
      /** The server process's CPU time so far (all its threads: zlib and fs work run on the thread pool). */
      cpuMs: () => ask('cpu'),
      /** The server process's resident set size now, in bytes. */
      rssBytes: () => ask('rss'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The child: one JetBridge on the embedded default, answering the parent until it says stop. */
async function serve(dataDir) {
  const webDist = new URL('../../apps/web/dist/index.js', import.meta.url);
  const { parseWebConfig, startJetBridge: start } = await import(webDist.href);
  const config = parseWebConfig([], {
    CONCOURSE_BIND_IP: '127.0.0.1',
    CONCOURSE_BIND_PORT: '0',
    CONCOURSE_LOG_LEVEL: 'error',
    CONCOURSE_ADD_LOCAL_USER: `${USER.username}:${USER.password}`,
    CONCOURSE_MAIN_TEAM_LOCAL_USER: USER.username,
    JETBRIDGE_DATA_DIR: dataDir,
  });
  const server = await start(config, {
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  let stopping;
  const stop = () => {
    stopping ??= server
      .close()
      .then(() => rm(dataDir, { recursive: true, force: true }))
      .finally(() => process.exit(0));
    return stopping;
  };
  // A bench that dies (a failed assertion, a closed stdout) must not leave a server and its PostgreSQL behind.
  process.on('disconnect', stop);
  process.on('message', async ({ ask }) => {
    if (ask === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send({ answer: ask, value: (user + system) / 1000 });
    } else if (ask === 'rss') {
      process.send({ answer: ask, value: process.memoryUsage.rss() });
    } else if (ask === 'stop') {
      await stop();
    }
  });
  process.send({ url: server.url });
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

/** A JSON API call; throws on a status ≥ 300. `body` may be a string (sent as is) or a value (as JSON). */
export async function api(server, method, urlPath, body) {
  const headers = { authorization: `Bearer ${server.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${urlPath}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

export function httpGet(url, headers, agent) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent }, resolve).on('error', reject);
  });
}

export async function readText(response) {
  let body = '';
  for await (const chunk of response) body += chunk;
  return body;
}

/**
 * Read a build's SSE stream (`GET /builds/:id/events`) to its `end` frame, calling `onEvent` with each
 * parsed event; resolves with the last build status seen.
 */
export async function streamBuildEvents(server, buildId, onEvent = () => {}) {
  const response = await httpGet(`${server.url}/api/v1/builds/${buildId}/events`, {
    authorization: `Bearer ${server.token}`,
    accept: 'text/event-stream',
  });
  if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode}`);
  let buffered = '';
  let status;
  try {
    response.setEncoding('utf8');
    for await (const chunk of response) {
      buffered += chunk;
      let start = 0;
      for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n', start)) {
        const frame = buffered.slice(start, end);
        start = end + 2;
        if (frame.includes('\nevent: end')) return status;
        const dataAt = frame.indexOf('\ndata: ');
        if (dataAt === -1) continue;
        const event = JSON.parse(frame.slice(dataAt + '\ndata: '.length));
        if (event.event === 'status') status = event.data.status;
        onEvent(event);
      }
      buffered = buffered.slice(start);
    }
  } finally {
    response.destroy();
  }
  throw new Error(`the event stream of build ${buildId} ended without an end frame`);
}

let planId = Math.floor(Date.now() / 1000);
/** A fresh plan id (hex, as fly makes them). */
export function nextPlanId() {
  return (planId++).toString(16);
}

/** A one-off build of one task without inputs: `fly execute` of a task config running `path args…`. */
export function taskPlan(path, args) {
  return {
    id: nextPlanId(),
    task: {
      name: 'one-off',
      privileged: false,
      config: { platform: process.platform, run: { path, args } },
    },
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Report a figure to bench/run.js. `pass` (true/false) says whether it meets `target`; leave it out for
 * context figures without a target.
 */
export function figure(name, value, target, pass) {
  process.stdout.write(
    `BENCH-FIGURE ${JSON.stringify({ figure: name, value, target, ...(pass === undefined ? {} : { pass }) })}\n`,
  );
}

export function progress(message) {
  process.stdout.write(`${message}\n`);
}

export function loadAverage() {
  return os
    .loadavg()
    .map((load) => load.toFixed(1))
    .join(' ');
}

// The child process runs the server; the parent only imports this module.
if (process.argv[2] === SERVER_FLAG) await serve(process.argv[3]);
