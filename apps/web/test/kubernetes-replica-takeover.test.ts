// Two web replicas on one database and one cluster, steps as pods. One replica dies (SIGKILL) in the middle of
// a step; the survivor's orphan sweep finds its build and, instead of ending it blind, collects the step from
// its pod — every line of its output once (those printed while nobody watched too), its exit status, never a
// second run — and goes on with the build from there. The dying replica is the built CLI in a child process, so it really dies; the survivor runs in
// this process.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import { parseWebConfig } from '../src/config/index.js';
import { startJetBridge, type RunningJetBridge } from '../src/server.js';
import { executePlan, logText, readBuildEvents, statusesOf, type EnvelopeEvent } from './execute-client.js';
import { shTask, startBuild } from './execute-flow.js';
import { ADMIN, jsonLogSink, loginToken, spawnWebNode, until, webCliMissing, webNodeEnv } from './harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

const pvc = ARTIFACT_MODES.find((each) => each.mode === 'pvc');
const skip = pvc?.skip ?? webCliMissing;

(skip === undefined ? describe : describe.skip)(
  `a dead web replica's running step, collected by a survivor${skip ? ` [skipped: ${skip}]` : ''}`,
  () => {
    let postgres: TestPostgres;
    let cluster: TestCluster;
    const dataDirs: string[] = [];
    let child: ChildProcess | undefined;
    let survivor: RunningJetBridge | undefined;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      postgres = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
      cluster = await startTestCluster('ci');
      env = {
        ...webNodeEnv(postgres, [ADMIN]),
        CONCOURSE_LOG_LEVEL: 'debug',
        ...cluster.env('pvc', { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }),
      };
    });

    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await survivor?.close();
      await cluster?.close();
      await postgres?.destroy();
      for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
    });

    async function dataDir(): Promise<string> {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-'));
      dataDirs.push(dir);
      return dir;
    }

    it("the survivor's orphan sweep follows the step in its pod instead of ending the build blind", async () => {
      // The survivor first: it sees no pod at its start, so only its orphan sweep can collect the step.
      const survivorLogs: Array<Record<string, unknown>> = [];
      survivor = await startJetBridge(
        parseWebConfig([], {
          ...env,
          JETBRIDGE_DATA_DIR: await dataDir(),
          CONCOURSE_BIND_PORT: '0',
          CONCOURSE_BUILD_TRACKER_INTERVAL: '1s',
        }),
        {
          logDestination: jsonLogSink(survivorLogs),
        },
      );

      const node = await spawnWebNode({ ...env, JETBRIDGE_DATA_DIR: await dataDir() }, 'the dying replica');
      child = node.child;
      const { url, exited } = node;
      const token = await loginToken(url, ADMIN);
      const script = [
        'i=0',
        'while [ $i -lt 120 ]; do i=$((i+1)); echo "línea $i ✓"; echo "err $i" >&2; sleep 0.1; done',
        'exit 3',
      ].join('\n');
      const build = await startBuild(url, token, executePlan(shTask(script), [], []));
      const firstEvents: EnvelopeEvent[] = [];
      const firstStream = readBuildEvents(url, token, build.id, {
        onEvent: (event) => void firstEvents.push(event),
      }).catch(() => undefined);
      await until('the step to print a few lines', () =>
        logText(firstEvents).includes('línea 5 ✓') ? true : undefined,
      );
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await firstStream;

      // Within an orphan sweep (--build-tracker-interval) the survivor takes the build over and follows it to
      // its end.
      const token2 = await loginToken(survivor.url, ADMIN);
      const stream = await readBuildEvents(survivor.url, token2, build.id);
      expect(stream.ended).toBe(true);
      // The survivor goes on with the build from the collected step: its exit status fails it.
      expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
      expect(logText(stream.events, 'stdout')).toBe(
        Array.from({ length: 120 }, (_, i) => `línea ${i + 1} ✓\n`).join(''),
      );
      expect(
        logText(stream.events, 'stderr')
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('jetbridge: ')),
      ).toEqual(Array.from({ length: 120 }, (_, i) => `err ${i + 1}`));
      expect(logText(stream.events, 'stderr')).toContain('following this step in its pod');
      expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(3);
      expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
      expect(survivorLogs.some((line) => line['msg'] === 'resuming a build interrupted by a restart')).toBe(
        true,
      );
      stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
      const [pod, ...others] = await cluster.podNames();
      expect(others).toEqual([]);
      expect(cluster.execCommands(pod!).filter((command) => command.includes('spawn')).length).toBe(1);
      expect(survivorLogs.some((line) => line['msg'] === 'took over an orphaned build')).toBe(true);
      expect(survivorLogs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual(
        [],
      );
    });
  },
);
