// What the kill -9 restart tests on --runtime kubernetes share: a real PostgreSQL, the test cluster, a web
// data directory and the environment of a web node on them (in one artifact mode); the first web node as the
// built CLI in a child process (what `pnpm start` runs), so it really dies with SIGKILL; the next ones in
// this process, on the same database, data directory and cluster.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from '@jest/globals';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import { parseWebConfig } from '../src/config/index.js';
import { startJetBridge, type RunningJetBridge } from '../src/server.js';
import { ADMIN, jsonLogSink, spawnWebNode, webNodeEnv, type SpawnedWebNode } from './harness.js';
import { startTestCluster, type ArtifactMode, type TestCluster } from './kubernetes-cluster.js';

export interface RestartFixture {
  postgres: TestPostgres;
  cluster: TestCluster;
  dataDir: string;
  /** A web node's environment on this database, data directory and cluster. */
  env: NodeJS.ProcessEnv;
  /** The first web node: the CLI in a child process (killed at `close` if still alive). */
  spawnFirstNode(): Promise<SpawnedWebNode>;
  /** SIGKILL the CLI node and wait until it is gone. */
  kill9(node: SpawnedWebNode): Promise<void>;
  /** A web node in this process; its JSON log lines go to `logs` when given, else nowhere. */
  startNode(logs?: Array<Record<string, unknown>>): Promise<RunningJetBridge>;
  close(): Promise<void>;
}

export interface RestartFixtureOptions {
  /** More environment for every web node (credentials, log level…). */
  env?: (dataDir: string) => NodeJS.ProcessEnv;
  /** More images for the cluster (see startTestCluster). */
  images?: Record<string, string>;
}

export async function startRestartFixture(
  mode: ArtifactMode,
  options: RestartFixtureOptions = {},
): Promise<RestartFixture> {
  const postgres = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
  const cluster = await startTestCluster(
    'ci',
    options.images === undefined ? {} : { images: options.images },
  );
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-'));
  const env: NodeJS.ProcessEnv = {
    ...webNodeEnv(postgres, [ADMIN]),
    JETBRIDGE_DATA_DIR: dataDir,
    ...options.env?.(dataDir),
    ...cluster.env(mode, { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }),
  };
  const children: ChildProcess[] = [];
  const nodes: RunningJetBridge[] = [];
  return {
    postgres,
    cluster,
    dataDir,
    env,
    spawnFirstNode: async () => {
      const node = await spawnWebNode(env, 'the first web node');
      children.push(node.child);
      return node;
    },
    kill9: async (node) => {
      node.child.kill('SIGKILL');
      expect(await node.exited).toBe('SIGKILL');
    },
    startNode: async (logs) => {
      const node = await startJetBridge(parseWebConfig([], { ...env, CONCOURSE_BIND_PORT: '0' }), {
        logDestination:
          logs === undefined
            ? new Writable({ write: (_chunk, _encoding, done) => done() })
            : jsonLogSink(logs),
      });
      nodes.push(node);
      return node;
    },
    close: async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      // Closing a node twice is harmless: a test may have closed it already (a graceful hand-over).
      for (const node of nodes) await node.close().catch(() => undefined);
      await cluster.close();
      await postgres.destroy();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
