// `jetbridge web --runtime kubernetes` end to end, in each artifact mode: a real web node (real HTTP, real
// PostgreSQL) whose steps run as pods on the in-repo Kubernetes API test server, driven exactly as `fly
// execute` drives it (chunked tar.gz upload, the one-off plan, the event stream to its end, the output
// download), every final status, `fly workers/containers/volumes` as JSON, the pod reaper, and the real fly
// when it is at /tmp/flybin/fly. A mode the runtime does not implement yet is skipped, saying so.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestPostgres } from '@jetbridge/db/testing';
import { parseWebConfig } from '../src/config/index.js';
import { startJetBridge } from '../src/server.js';
import {
  authHeaders,
  executePlan,
  extractTarGz,
  logText,
  readBuildEvents,
  statusesOf,
} from './execute-client.js';
import {
  eventTypes,
  getJson,
  makeInputDir,
  shTask,
  snapshot,
  startBuild,
  uploadDir,
} from './execute-flow.js';
import { FLY_SKIP_REASON, FlyCli, flyAvailable } from './fly-cli.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

for (const { mode, skip } of ARTIFACT_MODES) {
  const describeMode = skip === undefined ? describe : describe.skip;
  describeMode(`--runtime kubernetes, ${mode} artifacts${skip ? ` [skipped: ${skip}]` : ''}`, () => {
    let cluster: TestCluster;
    let server: TestServer;
    let token: string;
    let scratch: string;
    const workerName = 'k8s-ci';

    beforeAll(async () => {
      cluster = await startTestCluster('ci');
      // What another web replica may be writing on the shared claim right now (data without metadata yet).
      if (mode === 'pvc') {
        await mkdir(path.join(cluster.claimDir, 'artifacts', 'data', 'another-replicas-upload'), {
          recursive: true,
        });
      }
      server = await startTestServer({
        env: cluster.env(mode, { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }),
      });
      token = await loginToken(server.url, ADMIN);
      scratch = await mkdtemp(path.join(os.tmpdir(), `jetbridge-k8s-${mode}-`));
    });

    afterAll(async () => {
      await server?.destroy();
      await cluster?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('runs fly execute with an input and an output as pods: events, statuses and output bytes', async () => {
      const inputDir = await makeInputDir(path.join(scratch, 'input'));
      const artifactId = await uploadDir(server.url, token, inputDir);
      const config = shTask(
        'cp -R in/. out/ && echo made-by-task > out/generated.txt && echo working; echo oops >&2',
        { inputs: [{ name: 'in' }], outputs: [{ name: 'out' }] },
      );
      const build = await startBuild(
        server.url,
        token,
        executePlan(config, [{ name: 'in', artifactId }], ['out']),
      );
      expect(build.status).toBe('started');

      const stream = await readBuildEvents(server.url, token, build.id);
      expect(stream.ended).toBe(true);
      const types = eventTypes(stream.events);
      expect(types[0]).toBe('status started');
      expect(types.at(-1)).toBe('status succeeded');
      expect(
        types.filter((t) => ['initialize-task', 'selected-worker', 'start-task', 'finish-task'].includes(t)),
      ).toEqual(['initialize-task', 'selected-worker', 'start-task', 'finish-task']);
      expect(stream.events.find((e) => e.event === 'selected-worker')?.data['selected_worker']).toBe(
        workerName,
      );
      expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(0);
      expect(logText(stream.events, 'stdout')).toBe('working\n');
      expect(logText(stream.events, 'stderr')).toBe('oops\n');
      stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));

      const artifacts = await getJson<Array<{ id: number; name: string; build_id: number }>>(
        `${server.url}/api/v1/builds/${build.id}/artifacts`,
        token,
      );
      expect(artifacts).toEqual([
        { id: expect.any(Number), name: 'out', build_id: build.id, created_at: expect.any(Number) },
      ]);
      const download = await fetch(`${server.url}/api/v1/teams/main/artifacts/${artifacts[0]!.id}`, {
        headers: authHeaders(token),
      });
      expect(download.status).toBe(200);
      const outDir = path.join(scratch, 'output');
      await mkdir(outDir);
      await extractTarGz(download, outDir);
      const expected = await snapshot(inputDir);
      expected.set('generated.txt', Buffer.from('made-by-task\n'));
      expect(await snapshot(outDir)).toEqual(expected);
      expect((await stat(path.join(outDir, 'nested', 'deeper', 'run.sh'))).mode & 0o777).toBe(0o755);
      // The step really ran as a pod of this installation.
      expect((await cluster.podNames()).some((name) => name.startsWith('jb-task-'))).toBe(true);
    });

    (mode === 'pvc' ? it : it.skip)(
      "leaves another replica's upload under way on the shared claim at start (only old leftovers go)",
      async () => {
        const upload = path.join(cluster.claimDir, 'artifacts', 'data', 'another-replicas-upload');
        expect((await stat(upload)).isDirectory()).toBe(true);
      },
    );

    it('fails the build when the task exits 1 (finish-task exit status 1)', async () => {
      const build = await startBuild(
        server.url,
        token,
        executePlan(shTask('echo about to fail; exit 1'), [], []),
      );
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
      expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(1);
      expect(logText(stream.events)).toBe('about to fail\n');
    });

    it('errors the build when the runtime refuses the step (privileged without --kubernetes-allow-privileged)', async () => {
      const plan = executePlan(shTask('echo never'), [], []) as {
        do: Array<{ task?: { privileged: boolean } }>;
      };
      plan.do[1]!.task!.privileged = true;
      const build = await startBuild(server.url, token, plan);
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
      const error = stream.events.find((e) => e.event === 'error');
      expect(String(error?.data['message'])).toMatch(/privileged/);
      expect(logText(stream.events)).not.toContain('never');
    });

    it('aborts a running step: the build ends aborted and its process stops', async () => {
      const marker = path.join(scratch, `aborted-${mode}`);
      const build = await startBuild(
        server.url,
        token,
        executePlan(shTask(`echo started; sleep 60; echo not-aborted > ${marker}`), [], []),
      );
      let aborted = false;
      const stream = await readBuildEvents(server.url, token, build.id, {
        onEvent: async (event) => {
          if (aborted || event.event !== 'log') return;
          aborted = true;
          const res = await fetch(`${server.url}/api/v1/builds/${build.id}/abort`, {
            method: 'PUT',
            headers: authHeaders(token),
          });
          expect(res.status).toBe(204);
        },
      });
      expect(aborted).toBe(true);
      expect(statusesOf(stream.events)).toEqual(['started', 'aborted']);
      const got = await getJson<{ status: string }>(`${server.url}/api/v1/builds/${build.id}`, token);
      expect(got.status).toBe('aborted');
      await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('says in the build log that a step waits for a node, then runs it once one is free', async () => {
      const release = cluster.server.faults.holdPending({
        namespace: cluster.namespace,
        message: '0/3 nodes are available: 3 Insufficient cpu.',
      });
      const build = await startBuild(
        server.url,
        token,
        executePlan(shTask('echo scheduled at last'), [], []),
      );
      let released = false;
      const stream = await readBuildEvents(server.url, token, build.id, {
        onEvent: (event) => {
          if (
            !released &&
            event.event === 'log' &&
            String(event.data['payload']).includes('waiting for a node')
          ) {
            released = true;
            release();
          }
        },
      });
      release();
      expect(released).toBe(true);
      expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
      const notice = stream.events.find(
        (e) => e.event === 'log' && String(e.data['payload']).includes('waiting for a node'),
      );
      // In the task's own log (its plan id), before its output.
      const task = stream.events.find((e) => e.event === 'initialize-task');
      expect(notice?.data['origin']).toEqual({
        id: (task?.data['origin'] as { id: string }).id,
        source: 'stderr',
      });
      expect(String(notice?.data['payload'])).toContain('Insufficient cpu');
      expect(logText(stream.events, 'stdout')).toBe('scheduled at last\n');
    });

    it("exports the runtime's metrics on the web's /metrics", async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain('jetbridge_k8s_exec_bytes_total');
      expect(text).toContain('jetbridge_k8s_watch_restarts_total');
      expect(text).toContain('http_request_duration_seconds');
    });

    it('answers fly workers, containers and volumes with the namespace worker', async () => {
      const workers = await getJson<Array<Record<string, unknown>>>(`${server.url}/api/v1/workers`, token);
      expect(workers).toEqual([
        expect.objectContaining({
          name: workerName,
          platform: 'linux',
          state: 'running',
          version: '2.5',
          team: '',
          tags: [],
        }),
      ]);
      expect(workers[0]!['active_containers']).toEqual(expect.any(Number));
      expect(workers[0]!['active_volumes']).toEqual(expect.any(Number));

      const containers = await getJson<Array<Record<string, unknown>>>(
        `${server.url}/api/v1/teams/main/containers`,
        token,
      );
      expect(containers.length).toBeGreaterThan(0);
      for (const container of containers) {
        expect(container).toMatchObject({ worker_name: workerName, type: 'task', step_name: 'one-off' });
      }
      const volumes = await getJson<Array<Record<string, unknown>>>(
        `${server.url}/api/v1/teams/main/volumes`,
        token,
      );
      expect(volumes.length).toBeGreaterThan(0);
      for (const volume of volumes) expect(volume['worker_name']).toBe(workerName);
    });

    it('reaps the pods of finished builds once their keep-for-hijack time is over', async () => {
      const kubernetes = server.server.runtime.kubernetes;
      expect(kubernetes).toBeDefined();
      const build = await startBuild(server.url, token, executePlan(shTask('echo short-lived'), [], []));
      const stream = await readBuildEvents(server.url, token, build.id);
      expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // --kubernetes-keep-for-hijack 1s
      const reaped = await kubernetes!.reapOnce();
      expect(reaped.length).toBeGreaterThan(0);
      const deadline = Date.now() + 30_000;
      while ((await cluster.podNames()).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(await cluster.podNames()).toEqual([]);
    });

    (flyAvailable ? it : it.skip)(
      `runs the real fly execute -i -o, intercept, workers, containers and volumes against it${flyAvailable ? '' : ` [skipped: ${FLY_SKIP_REASON}]`}`,
      async () => {
        const fly = await FlyCli.login(server.url, ADMIN);
        try {
          const input = path.join(scratch, 'fly-input');
          await mkdir(input);
          await writeFile(path.join(input, 'greeting.txt'), 'hello from fly\n');
          const output = path.join(scratch, 'fly-output');
          await mkdir(output);
          const task = path.join(scratch, 'fly-task.yml');
          await writeFile(
            task,
            [
              'platform: linux',
              'image_resource: {type: registry-image, source: {repository: busybox}}',
              'inputs: [{name: in}]',
              'outputs: [{name: out}]',
              'run: {path: sh, args: [-c, "cat in/greeting.txt; tr a-z A-Z < in/greeting.txt > out/shout.txt"]}',
            ].join('\n'),
          );
          const result = await fly.run(['execute', '-c', task, '-i', `in=${input}`, '-o', `out=${output}`], {
            timeoutMs: 120_000,
          });
          expect(result.stderr).toBe('');
          // With fly's output, so that a failed build says why.
          expect({ code: result.code, stdout: result.stdout }).toMatchObject({ code: 0 });
          // fly prints the label in bold.
          expect(result.stdout).toMatch(new RegExp(`selected worker:\\S*\\s+${workerName}`));
          expect(result.stdout).toContain('hello from fly');
          expect(await readFile(path.join(output, 'shout.txt'), 'utf8')).toBe('HELLO FROM FLY\n');

          // fly intercept: a new process in the finished step's pod, which still has the step's files.
          const buildId = /executing build (\d+)/.exec(result.stdout)?.[1];
          expect(buildId).toBeDefined();
          const intercepted = await fly.run(
            ['intercept', '-b', buildId!, '-s', 'one-off', '--', 'sh', '-c', 'cat in/greeting.txt; exit 3'],
            { timeoutMs: 60_000 },
          );
          expect(intercepted.stdout).toContain('hello from fly');
          expect(intercepted.code).toBe(3);

          // fly workers/containers/volumes --json: the namespace worker everywhere.
          const workers = await fly.run(['workers', '--json']);
          expect(workers.code).toBe(0);
          expect((JSON.parse(workers.stdout) as Array<{ name: string }>).map((w) => w.name)).toEqual([
            workerName,
          ]);
          for (const command of ['containers', 'volumes']) {
            const listed = await fly.run([command, '--json']);
            expect(listed.code).toBe(0);
            const rows = JSON.parse(listed.stdout) as Array<{ worker_name: string }>;
            expect(rows.length).toBeGreaterThan(0);
            expect(new Set(rows.map((row) => row.worker_name))).toEqual(new Set([workerName]));
          }
        } finally {
          await fly.dispose();
        }
      },
    );

    it('logged nothing at error level', () => {
      expect(server.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual(
        [],
      );
    });
  });
}

describe('--runtime kubernetes start-up errors', () => {
  it('names --kubernetes-kubeconfig when its file cannot be read', async () => {
    const postgres = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-'));
    try {
      const config = parseWebConfig([], {
        CONCOURSE_BIND_IP: '127.0.0.1',
        CONCOURSE_BIND_PORT: '0',
        CONCOURSE_ADD_LOCAL_USER: `${ADMIN.username}:${ADMIN.password}`,
        CONCOURSE_POSTGRES_HOST: postgres.connection.host,
        CONCOURSE_POSTGRES_PORT: String(postgres.connection.port),
        CONCOURSE_POSTGRES_USER: postgres.connection.user,
        CONCOURSE_POSTGRES_PASSWORD: postgres.connection.password,
        CONCOURSE_POSTGRES_DATABASE: postgres.connection.database,
        JETBRIDGE_DATA_DIR: dataDir,
        JETBRIDGE_RUNTIME: 'kubernetes',
        CONCOURSE_KUBERNETES_NAMESPACE: 'ci',
        CONCOURSE_KUBERNETES_CLAIM: 'jetbridge-artifacts',
        CONCOURSE_KUBERNETES_CLAIM_MOUNT_PATH: path.join(dataDir, 'claim'),
        CONCOURSE_KUBERNETES_HELPER_IMAGE: 'jetbridge/helper:test',
        CONCOURSE_KUBERNETES_KUBECONFIG: path.join(dataDir, 'no-such-kubeconfig'),
      });
      await expect(
        startJetBridge(config, { logDestination: new Writable({ write: (_c, _e, done) => done() }) }),
      ).rejects.toThrow(
        `cannot load --kubernetes-kubeconfig (CONCOURSE_KUBERNETES_KUBECONFIG) ${path.join(dataDir, 'no-such-kubeconfig')}: ENOENT: no such file or directory`,
      );
    } finally {
      await postgres.destroy();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
