// `--kubernetes-artifact-mode node-local` at the web level, on the simulated 3-node cluster of
// kubernetes-cluster.ts (one artifact daemon per node): what only this mode does. The shared flows (fly execute,
// statuses, reaper, the real fly, restarts, examples) run in this mode too, through ARTIFACT_MODES.
// Here: a `fly execute` upload and a step's output live in the nodes' daemon stores, not the web's data dir;
// a consumer free to go anywhere lands on its producer's node and copies its input locally, and one held
// elsewhere by its tag fetches the input from the producer's daemon (the init container's fetch report); and
// garbage collection reaches the daemons: an expired upload and a finished build's volumes leave the nodes' disks.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NodeLocalArtifacts, type InputFetchReport } from '@jetbridge/runtime-k8s';
import { authHeaders, logText, readBuildEvents, statusesOf } from './execute-client.js';
import { makeInputDir, shTask, startBuild, uploadDir } from './execute-flow.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { ARTIFACT_MODES, NODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

const skip = ARTIFACT_MODES.find((each) => each.mode === 'node-local')?.skip;

let planIds = 0;
const planId = (): string => `nl${(planIds += 1)}`;

/** A task step of a one-off plan. */
function task(name: string, config: ReturnType<typeof shTask>, tags?: string[]) {
  return {
    id: planId(),
    task: { name, privileged: false, hermetic: false, config, ...(tags ? { tags } : {}) },
  };
}

(skip === undefined ? describe : describe.skip)(
  `--runtime kubernetes, node-local artifacts on 3 nodes${skip ? ` [skipped: ${skip}]` : ''}`,
  () => {
    let cluster: TestCluster;
    let server: TestServer;
    let token: string;
    let scratch: string;

    /** Artifact handles each node's daemon holds (its store's data directory). */
    async function handlesOn(node: string): Promise<string[]> {
      return readdir(path.join(cluster.nodeStore(node), 'data')).catch(() => []);
    }

    /** The fetch-inputs reports of this installation's step pods (init container logs), by pod name. */
    async function fetchReports(): Promise<Map<string, InputFetchReport>> {
      const reports = new Map<string, InputFetchReport>();
      for (const pod of await cluster.podNames()) {
        const response = await fetch(
          `${cluster.server.url}/api/v1/namespaces/${cluster.namespace}/pods/${pod}/log?container=jetbridge-init`,
          { headers: { authorization: 'Bearer kube-test-server' } },
        );
        const report = NodeLocalArtifacts.inputReport(await response.text());
        if (report) reports.set(pod, report);
      }
      return reports;
    }

    beforeAll(async () => {
      cluster = await startTestCluster('ci');
      server = await startTestServer({
        env: cluster.env('node-local', {
          // Pods stay after their build, so their init containers' reports can be read.
          CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '10m',
          CONCOURSE_KUBERNETES_TAG_PLACEMENT: JSON.stringify({
            'on-a': { nodeSelector: { 'kubernetes.io/hostname': 'node-a' } },
            'on-c': { nodeSelector: { 'kubernetes.io/hostname': 'node-c' } },
          }),
        }),
      });
      token = await loginToken(server.url, ADMIN);
      scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-node-local-'));
    });

    afterAll(async () => {
      await server?.destroy();
      await cluster?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('keeps a fly execute upload on a node’s daemon, not in the web’s data directory', async () => {
      const before = new Map(await Promise.all(NODES.map(async (n) => [n, await handlesOn(n)] as const)));
      await uploadDir(server.url, token, await makeInputDir(path.join(scratch, 'upload')));
      const added = (
        await Promise.all(
          NODES.map(async (node) =>
            (await handlesOn(node)).filter((handle) => !before.get(node)?.includes(handle)),
          ),
        )
      ).flat();
      expect(added).toHaveLength(1);
      const webVolumes = await readdir(path.join(server.dataDir, 'worker', 'volumes', 'data')).catch(
        () => [],
      );
      expect(webVolumes).toEqual([]);
    });

    it('a consumer free to go anywhere runs on its producer’s node and copies the input locally', async () => {
      const build = await startBuild(server.url, token, {
        id: planId(),
        do: [
          task('produce', shTask('echo near-bytes > made/file', { outputs: [{ name: 'made' }] }), ['on-a']),
          task('consume', shTask('cat made/file', { inputs: [{ name: 'made' }] })),
        ],
      });
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
      expect(logText(stream.events, 'stdout')).toBe('near-bytes\n');
      const consumer = [...(await fetchReports()).values()].find((report) =>
        report.inputs.some((input) => input.how === 'local'),
      );
      expect(consumer).toMatchObject({ node: 'node-a' });
      expect(consumer?.inputs).toEqual([expect.objectContaining({ how: 'local', node: 'node-a' })]);
      expect(await handlesOn('node-a')).toContain(consumer?.inputs[0]?.handle);
    });

    it('a consumer held on another node by its tag fetches the input from the producer’s daemon', async () => {
      const build = await startBuild(server.url, token, {
        id: planId(),
        do: [
          task('produce', shTask('echo far-bytes > made/file', { outputs: [{ name: 'made' }] }), ['on-a']),
          task('consume', shTask('cat made/file', { inputs: [{ name: 'made' }] }), ['on-c']),
        ],
      });
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
      expect(logText(stream.events, 'stdout')).toBe('far-bytes\n');
      const fetched = [...(await fetchReports()).values()].filter((report) =>
        report.inputs.some((input) => input.how === 'fetched'),
      );
      expect(fetched).toHaveLength(1);
      expect(fetched[0]).toMatchObject({ node: 'node-c' });
      expect(fetched[0]?.inputs).toEqual([
        expect.objectContaining({ how: 'fetched', node: 'node-a', attempts: 1 }),
      ]);
    });

    it('logged nothing at error level', () => {
      expect(server.logs.filter((line) => Number(line['level']) >= 50)).toEqual([]);
    });
  },
);

(skip === undefined ? describe : describe.skip)(
  `--runtime kubernetes, node-local artifacts: garbage collection${skip ? ` [skipped: ${skip}]` : ''}`,
  () => {
    let cluster: TestCluster;
    let server: TestServer;
    let token: string;
    let scratch: string;

    async function handlesOnAnyNode(): Promise<string[]> {
      const all = await Promise.all(
        NODES.map((node) => readdir(path.join(cluster.nodeStore(node), 'data')).catch(() => [])),
      );
      return all.flat();
    }

    async function until(what: string, done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }

    beforeAll(async () => {
      cluster = await startTestCluster('ci');
      server = await startTestServer({
        env: cluster.env('node-local', {
          CONCOURSE_GC_INTERVAL: '500ms',
          JETBRIDGE_GC_ARTIFACT_RETENTION: '3s',
          CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s',
        }),
      });
      token = await loginToken(server.url, ADMIN);
      scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-node-local-gc-'));
    });

    afterAll(async () => {
      await server?.destroy();
      await cluster?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('deletes an upload from its daemon once its retention is over, and its artifact with it', async () => {
      const before = await handlesOnAnyNode();
      const artifactId = await uploadDir(server.url, token, await makeInputDir(path.join(scratch, 'upload')));
      const upload = (await handlesOnAnyNode()).filter((handle) => !before.includes(handle));
      expect(upload).toHaveLength(1);
      // Kept for the retention period (3 s), then gone from the node and from the API.
      expect(
        (
          await fetch(`${server.url}/api/v1/teams/main/artifacts/${artifactId}`, {
            headers: authHeaders(token),
          })
        ).status,
      ).toBe(200);
      await until(
        'the upload to leave its node',
        async () => !(await handlesOnAnyNode()).includes(upload[0]!),
      );
      expect(
        (
          await fetch(`${server.url}/api/v1/teams/main/artifacts/${artifactId}`, {
            headers: authHeaders(token),
          })
        ).status,
      ).toBe(404);
    });

    it('deletes a finished build’s volumes once its pods are gone, keeping none of them', async () => {
      const before = await handlesOnAnyNode();
      const build = await startBuild(server.url, token, {
        id: planId(),
        do: [
          task('produce', shTask('echo bytes > made/file', { outputs: [{ name: 'made' }] })),
          task('consume', shTask('cat made/file', { inputs: [{ name: 'made' }] })),
        ],
      });
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
      await until('the build’s volumes to leave the nodes', async () =>
        (await handlesOnAnyNode()).every((handle) => before.includes(handle)),
      );
      const gc = server.logs.filter((line) => line['msg'] === 'garbage-collected volumes');
      expect(gc.length).toBeGreaterThan(0);
    });

    it('logged nothing at error level', () => {
      expect(server.logs.filter((line) => Number(line['level']) >= 50)).toEqual([]);
    });
  },
);
