import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
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
    CONCOURSE_BIND_IP: '127.0.0.1',
    CONCOURSE_BIND_PORT: '0',
    CONCOURSE_LOG_LEVEL: 'debug',
    CONCOURSE_ADD_LOCAL_USER: `${ADMIN.username}:${ADMIN.password},${PLAIN_USER.username}:${PLAIN_USER.password}`,
    CONCOURSE_MAIN_TEAM_LOCAL_USER: ADMIN.username,
    CONCOURSE_POSTGRES_HOST: postgres.connection.host,
    CONCOURSE_POSTGRES_PORT: String(postgres.connection.port),
    CONCOURSE_POSTGRES_USER: postgres.connection.user,
    CONCOURSE_POSTGRES_PASSWORD: postgres.connection.password,
    CONCOURSE_POSTGRES_DATABASE: postgres.connection.database,
    JETBRIDGE_DATA_DIR: dataDir,
    ...options.env,
  };
  const config = parseWebConfig(options.argv ?? [], env);
  const logs: Array<Record<string, unknown>> = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });

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
