import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  allocateBuildId,
  createJobBuild,
  createStartedOneOffBuild,
  findJob,
  findPipeline,
  pauseJob,
} from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import type { JobBuildInput } from '../src/builds/job-build-starter.js';
import { parseWebConfig, type WebConfig } from '../src/config/index.js';
import { startJetBridge, type RunningJetBridge } from '../src/server.js';

export interface TestServer {
  url: string;
  server: RunningJetBridge;
  config: WebConfig;
  postgres: TestPostgres;
  dataDir: string;
  /** Every JSON log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Stop the server only (the database and data dir stay, for restart tests). */
  stop(): Promise<void>;
  /** Start a new server on the same database and data directory. */
  restart(): Promise<void>;
  /** Stop everything and delete the data. */
  destroy(): Promise<void>;
}

/** Users every test server has: an admin (owner of main) and a plain user with no team. */
export const ADMIN = { username: 'admin', password: 'admin-secret' } as const;
export const PLAIN_USER = { username: 'alice', password: 'alice-secret' } as const;

/** The users a web node is started with (`--add-local-user`); the first owns the main team. */
type LocalUser = { readonly username: string; readonly password: string };

/**
 * The environment of a web node on `postgres` (as an operator's external database), listening on 127.0.0.1,
 * with `users` as local users and the first of them owning main. Callers add the data directory and the rest.
 */
export function webNodeEnv(
  postgres: TestPostgres,
  users: readonly [LocalUser, ...LocalUser[]] = [ADMIN, PLAIN_USER],
): NodeJS.ProcessEnv {
  return {
    CONCOURSE_BIND_IP: '127.0.0.1',
    CONCOURSE_ADD_LOCAL_USER: users.map((user) => `${user.username}:${user.password}`).join(','),
    CONCOURSE_MAIN_TEAM_LOCAL_USER: users[0].username,
    CONCOURSE_POSTGRES_HOST: postgres.connection.host,
    CONCOURSE_POSTGRES_PORT: String(postgres.connection.port),
    CONCOURSE_POSTGRES_USER: postgres.connection.user,
    CONCOURSE_POSTGRES_PASSWORD: postgres.connection.password,
    CONCOURSE_POSTGRES_DATABASE: postgres.connection.database,
  };
}

/** A writable that parses the JSON log lines a server writes into `logs`. */
export function jsonLogSink(logs: Array<Record<string, unknown>>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
}

/**
 * Start a real JetBridge web node on a free port, against a real throwaway PostgreSQL (as an external
 * database), with its own data directory. Extra flags/env override the defaults.
 */
export async function startTestServer(
  options: {
    argv?: string[];
    env?: NodeJS.ProcessEnv;
    /**
     * Another server's database (a second web node of one installation): this server has its own data
     * directory, and `destroy` leaves the database to its owner.
     */
    sharedPostgres?: TestPostgres;
  } = {},
): Promise<TestServer> {
  // An "external" PostgreSQL as an operator would have one: its own server, a non-default user and database.
  const postgres =
    options.sharedPostgres ?? (await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' }));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-'));
  const env: NodeJS.ProcessEnv = {
    ...webNodeEnv(postgres),
    CONCOURSE_BIND_PORT: '0',
    CONCOURSE_LOG_LEVEL: 'debug',
    JETBRIDGE_DATA_DIR: dataDir,
    ...options.env,
  };
  const config = parseWebConfig(options.argv ?? [], env);
  const logs: Array<Record<string, unknown>> = [];
  const logDestination = jsonLogSink(logs);

  let server = await startJetBridge(config, { logDestination });
  const handle: TestServer = {
    url: server.url,
    server,
    config,
    postgres,
    dataDir,
    logs,
    stop: () => server.close(),
    restart: async () => {
      await server.close();
      // Reuse the same port so clients (and stored URLs) keep working.
      const port = Number(new URL(server.url).port);
      server = await startJetBridge({ ...config, bindPort: port }, { logDestination });
      handle.server = server;
      handle.url = server.url;
    },
    destroy: async () => {
      await server.close();
      if (options.sharedPostgres === undefined) await postgres.destroy();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** `fly login -u -p`: the password grant with fly's client credentials (concourse-api.md §5.2). */
export async function loginToken(url: string, user: { username: string; password: string }): Promise<string> {
  const res = await fetch(`${url}/sky/issuer/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('fly:Zmx5').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'password',
      username: user.username,
      password: user.password,
      scope: 'openid profile email federated:id groups',
    }).toString(),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

/** The built CLI (`pnpm build`), for web nodes that must really die (SIGKILL) in a child process. */
export const WEB_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

/** Why tests needing {@link WEB_CLI} are skipped, or undefined when it is built. */
export const webCliMissing: string | undefined = existsSync(WEB_CLI)
  ? undefined
  : `${WEB_CLI} is not built (run \`npx -y pnpm@10 build\`; the test script does)`;

/** A port free on 127.0.0.1 now (for a child process that must be told its port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` every `intervalMs` until it returns a value (not undefined), which it returns. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `check` every 100 ms until it holds, for at most `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface SpawnedWebNode {
  child: ChildProcess;
  url: string;
  /** Resolves with the signal that ended the process (null for a plain exit). */
  exited: Promise<NodeJS.Signals | null>;
  /** Its stdout and stderr so far. */
  output(): string;
}

/**
 * Start `web` from the built CLI in a child process with `env` (plus PATH and HOME) on a free port, and wait
 * until it answers /api/v1/info; `what` names it in a timeout. Killing it is the caller's.
 */
export async function spawnWebNode(env: NodeJS.ProcessEnv, what = 'the web node'): Promise<SpawnedWebNode> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(process.execPath, [WEB_CLI, 'web'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: os.tmpdir(),
      ...env,
      CONCOURSE_BIND_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  await until(`${what} to listen`, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${output}`);
    return fetch(`${url}/api/v1/info`).then(
      (res) => (res.status === 200 ? true : undefined),
      () => undefined,
    );
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(err)} (output so far: ${output.slice(-2000)})`);
  });
  return { child, url, exited, output: () => output };
}

/**
 * A build of job `jobName` of main's pipeline `pipelineName`, started here through the job build starter (as
 * the scheduler would) with `inputs`; the job is paused first so that no scheduler starts one. Its id.
 */
export async function startPausedJobBuild(
  ts: TestServer,
  pipelineName: string,
  jobName: string,
  inputs: JobBuildInput[] = [],
): Promise<number> {
  const db = ts.server.ctx.db;
  const team = await db.selectFrom('teams').select('id').where('name', '=', 'main').executeTakeFirstOrThrow();
  const pipeline = await findPipeline(db, team.id, pipelineName);
  const job = pipeline && (await findJob(db, pipeline.id, jobName));
  if (!job) throw new Error(`no job ${pipelineName}/${jobName}`);
  await pauseJob(db, job.id, 'test');
  const build = await createJobBuild(db, job.id, { createdBy: 'admin', manuallyTriggered: true });
  const starter = ts.server.ctx.jobBuildStarter;
  if (build === undefined || starter === undefined) throw new Error('no job build or no job build starter');
  const started = await starter.startBuild({ id: build.id }, inputs);
  // Errored before it started (its plan could not be made) is a build too: tests look at how it ended.
  if (!started.started && !started.errored) throw new Error(`build not started: ${started.reason}`);
  return build.id;
}

/**
 * A started one-off build of main tracked by a node that is gone ('vanished-node'): what a web node that died
 * mid-build leaves behind, for the orphan sweep to find. Its id.
 */
export async function createOrphanedBuild(ts: TestServer): Promise<number> {
  const db = ts.server.ctx.db;
  const id = await allocateBuildId(db);
  await createStartedOneOffBuild(db, {
    id,
    teamName: 'main',
    plan: { id: 'x', artifact_output: { name: 'o' } },
    createdBy: 'admin',
    trackedBy: 'vanished-node',
  });
  return id;
}
