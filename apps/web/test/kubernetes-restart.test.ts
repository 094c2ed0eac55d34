// A web node running steps as pods is killed (SIGKILL) in the middle of a step, then a new one starts on the
// same database and cluster: the step, still running in its pod, is followed to its end and its result
// collected — never run a second time — and the build ends with a final status saying what happened. Its
// output resumes where the stored build log stands: every line printed before, during and after the outage
// is in the log exactly once, in order. The
// first web node is the built CLI in a child process (what `pnpm start` runs; the test script builds before
// jest runs), so it really dies; the second one runs in this process.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import { parseWebConfig } from '../src/config/index.js';
import { startJetBridge, type RunningJetBridge } from '../src/server.js';
import { executePlan, logText, readBuildEvents, statusesOf, type EnvelopeEvent } from './execute-client.js';
import { getJson, shTask, startBuild } from './execute-flow.js';
import { ADMIN, jsonLogSink, loginToken, spawnWebNode, until, webCliMissing, webNodeEnv } from './harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

/** Where step pods have the helper (packages/runtime-k8s/src/pods/step-pod.ts). */
const HELPER_IN_POD = '/.jetbridge/bin/jetbridge-helper';

for (const { mode, skip: modeSkip } of ARTIFACT_MODES) {
  const skip = modeSkip ?? webCliMissing;
  const describeMode = skip === undefined ? describe : describe.skip;
  describeMode(
    `a killed web node's running step, ${mode} artifacts${skip ? ` [skipped: ${skip}]` : ''}`,
    () => {
      let postgres: TestPostgres;
      let cluster: TestCluster;
      let dataDir: string;
      let child: ChildProcess | undefined;
      let second: RunningJetBridge | undefined;
      const secondLogs: Array<Record<string, unknown>> = [];
      let env: NodeJS.ProcessEnv;

      beforeAll(async () => {
        postgres = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
        cluster = await startTestCluster('ci');
        dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-web-'));
        env = {
          ...webNodeEnv(postgres, [ADMIN]),
          JETBRIDGE_DATA_DIR: dataDir,
          CONCOURSE_LOG_LEVEL: 'debug',
          ...cluster.env(mode, { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }),
        };
      });

      /** Another web node in this process on the same database and cluster, its logs discarded. */
      const startQuietNode = () =>
        startJetBridge(parseWebConfig([], { ...env, CONCOURSE_BIND_PORT: '0' }), {
          logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
        });

      /**
       * Runs `script` (it prints `n 1`, `n 2`… on stdout) as a one-off build on the second node, then shuts that
       * node down gracefully once `n 3` is logged: the build, its one pod and the events read until then.
       */
      async function startStepThenStopNode(
        script: string,
      ): Promise<{ build: { id: number }; pod: string | undefined; events: EnvelopeEvent[] }> {
        const token = await loginToken(second!.url, ADMIN);
        const build = await startBuild(second!.url, token, executePlan(shTask(script), [], []));
        const events: EnvelopeEvent[] = [];
        const streaming = readBuildEvents(second!.url, token, build.id, {
          onEvent: (event) => void events.push(event),
        }).catch(() => undefined);
        await until('the step to start', () => (logText(events).includes('n 3\n') ? true : undefined));
        const [pod, ...others] = await cluster.podNames();
        expect(others).toEqual([]);
        await second!.close();
        second = undefined;
        await streaming;
        return { build, pod, events };
      }

      afterAll(async () => {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await second?.close();
        await cluster?.close();
        await postgres?.destroy();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
      });

      it('collects the step after a restart instead of running it again', async () => {
        // The first web node: the CLI, killed with SIGKILL while the step runs.
        const node = await spawnWebNode(env, 'the first web node');
        child = node.child;
        const { url, exited } = node;
        const token = await loginToken(url, ADMIN);

        // The step prints numbered lines (multi-byte characters included) on both streams until /tmp/go exists
        // in its own container (created through an exec after the restart), then some more.
        const script = [
          'echo before-restart',
          'i=0',
          'while [ ! -f /tmp/go ]; do i=$((i+1)); echo "línea $i ✓"; echo "err $i" >&2; sleep 0.05; done',
          'echo after-restart',
          'for j in $(seq 1 20); do i=$((i+1)); echo "línea $i ✓"; echo "err $i" >&2; done',
          'exit 7',
        ].join('\n');
        const build = await startBuild(url, token, executePlan(shTask(script), [], []));
        const firstEvents: EnvelopeEvent[] = [];
        const firstStream = readBuildEvents(url, token, build.id, {
          onEvent: (event) => void firstEvents.push(event),
        }).catch(() => undefined); // ends when the node dies
        await until('the step to print a few lines', () =>
          logText(firstEvents).includes('línea 5 ✓') ? true : undefined,
        );
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');
        await firstStream;
        // Lines printed while no web node runs.
        await new Promise((resolve) => setTimeout(resolve, 500));

        // The second web node, on the same database, data directory and cluster.
        const config = parseWebConfig([], { ...env, CONCOURSE_BIND_PORT: '0' });
        second = await startJetBridge(config, {
          logDestination: jsonLogSink(secondLogs),
        });
        expect(second.runtime.kubernetes?.recovery.buildIds).toEqual([build.id]);
        const token2 = await loginToken(second.url, ADMIN);
        // Still running in its pod, and still `started`: the new node's orphan sweep left it alone.
        expect(
          (await getJson<{ status: string }>(`${second.url}/api/v1/builds/${build.id}`, token2)).status,
        ).toBe('started');
        const [pod, ...others] = await cluster.podNames();
        expect(others).toEqual([]);
        // Lines printed while the new node follows the step, then the end.
        const secondEvents: EnvelopeEvent[] = [];
        const streaming = readBuildEvents(second.url, token2, build.id, {
          onEvent: (event) => void secondEvents.push(event),
        });
        const numbered = () => logText(secondEvents, 'stdout').split('línea').length - 1;
        await until('the new node to follow the step', () =>
          logText(secondEvents, 'stderr').includes('following this step') ? true : undefined,
        );
        const atFollow = numbered();
        await until('the new node to log more lines of the step', () =>
          numbered() >= atFollow + 5 ? true : undefined,
        );
        await cluster.exec(pod!, ['touch', '/tmp/go']);

        const stream = await streaming;
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
        const log = logText(stream.events);
        expect(log).toContain('before-restart');
        expect(log).toContain('not running it again');
        expect(log).toContain('after-restart');
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(7);
        const error = stream.events.find((e) => e.event === 'error');
        expect(error?.data['message']).toBe(
          "build interrupted: the web node running it restarted; collected from their pods without running them again: 'one-off' (exit status 7); the rest of the build did not run",
        );
        stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        // Started exactly once across both web nodes: one helper `spawn` into its pod, ever.
        const spawns = cluster.execCommands(pod!).filter((command) => command.includes('spawn'));
        expect(spawns.length).toBe(1);
        expect(log.split('before-restart').length).toBe(2);

        // Every line exactly once, in order, on each stream (the new node's notice aside).
        const stdoutLines = logText(stream.events, 'stdout').split('\n');
        expect(stdoutLines.shift()).toBe('before-restart');
        expect(stdoutLines.pop()).toBe('');
        const afterAt = stdoutLines.indexOf('after-restart');
        expect(afterAt).toBeGreaterThan(5);
        stdoutLines.splice(afterAt, 1);
        const printed = stdoutLines.length;
        expect(stdoutLines).toEqual(Array.from({ length: printed }, (_, i) => `línea ${i + 1} ✓`));
        expect(printed).toBe(afterAt + 20);
        const stderrLines = logText(stream.events, 'stderr')
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('jetbridge: '));
        expect(stderrLines).toEqual(Array.from({ length: printed }, (_, i) => `err ${i + 1}`));
        // Some were printed before the kill, some while no node ran, some while the new node followed.
        const seenByFirst = logText(firstEvents, 'stdout')
          .split('\n')
          .filter((line) => line.startsWith('línea'));
        expect(seenByFirst.length).toBeGreaterThanOrEqual(5);
        expect(afterAt).toBeGreaterThan(seenByFirst.length + 5);

        // The build is over: its pod goes with the next reaper pass after --kubernetes-keep-for-hijack.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await second.runtime.kubernetes!.reapOnce();
        await until(
          'the pod to be deleted',
          async () => ((await cluster.podNames()).length === 0 ? true : undefined),
          30_000,
        );
        expect(secondLogs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual(
          [],
        );
      });

      it('a graceful shutdown leaves the build started and its pod running: the next node collects the step, every line once', async () => {
        const { build, pod, events } = await startStepThenStopNode(
          'echo sleeping; for i in $(seq 1 40); do echo "n $i"; echo "e $i" >&2; sleep 0.1; done; echo done',
        );
        // Not ended by the shutdown: no final status, its pod left running.
        expect(statusesOf(events)).toEqual(['started']);
        expect(await cluster.podNames()).toEqual([pod]);
        await new Promise((resolve) => setTimeout(resolve, 300)); // lines printed while no node runs

        second = await startQuietNode();
        expect(second.runtime.kubernetes!.recovery.buildIds).toEqual([build.id]);
        const token2 = await loginToken(second.url, ADMIN);
        const stream = await readBuildEvents(second.url, token2, build.id);
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
        expect(logText(stream.events, 'stdout')).toBe(
          `sleeping\n${Array.from({ length: 40 }, (_, i) => `n ${i + 1}\n`).join('')}done\n`,
        );
        expect(
          logText(stream.events, 'stderr')
            .split('\n')
            .filter((line) => line !== '' && !line.startsWith('jetbridge: ')),
        ).toEqual(Array.from({ length: 40 }, (_, i) => `e ${i + 1}`));
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(0);
        expect(stream.events.filter((e) => e.event === 'error').map((e) => e.data['message'])).toEqual([
          "build interrupted: the web node running it restarted; collected from their pods without running them again: 'one-off' (exit status 0); the rest of the build did not run",
        ]);
        stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        expect(cluster.execCommands(pod!).filter((command) => command.includes('spawn')).length).toBe(1);

        // The build is over: its pod goes with the next reaper pass after --kubernetes-keep-for-hijack.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(await second.runtime.kubernetes!.reapOnce()).toHaveLength(1);
        await until(
          'the pod to be deleted',
          async () => ((await cluster.podNames()).length === 0 ? true : undefined),
          30_000,
        );
      });

      it('a step that finished while no web node ran: its remaining output and exit status are collected', async () => {
        const { build, pod } = await startStepThenStopNode(
          'for i in $(seq 1 30); do echo "n $i"; sleep 0.05; done; exit 4',
        );
        await until('the step to finish in its pod', async () => {
          const states = JSON.parse(await cluster.exec(pod!, [HELPER_IN_POD, 'status'])) as Array<{
            running: boolean;
          }>;
          return states.every((state) => !state.running) ? true : undefined;
        });

        // The step is over, so the new node may have collected it already when startJetBridge returns
        // (recovery.buildIds lists the builds being collected *now*): its log tells which builds its
        // start-up recovery took up, and the build's events what was collected.
        const logs: Array<Record<string, unknown>> = [];
        second = await startJetBridge(parseWebConfig([], { ...env, CONCOURSE_BIND_PORT: '0' }), {
          logDestination: jsonLogSink(logs),
        });
        expect(
          logs
            .filter((line) => line['msg'] === 'collecting the steps of a build interrupted by a restart')
            .map((line) => line['buildId']),
        ).toEqual([build.id]);
        const stream = await readBuildEvents(second.url, await loginToken(second.url, ADMIN), build.id);
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
        expect(logText(stream.events, 'stdout')).toBe(
          Array.from({ length: 30 }, (_, i) => `n ${i + 1}\n`).join(''),
        );
        expect(logText(stream.events, 'stderr')).toContain('collecting the result of this step from its pod');
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(4);
        expect(stream.events.filter((e) => e.event === 'error').map((e) => e.data['message'])).toEqual([
          "build interrupted: the web node running it restarted; collected from their pods without running them again: 'one-off' (exit status 4); the rest of the build did not run",
        ]);
        expect(cluster.execCommands(pod!).filter((command) => command.includes('spawn')).length).toBe(1);
        // The collected log events are stored with output_offset (where a later collection would resume);
        // the event stream, Concourse's shape, never shows it.
        const stored = await second.ctx.db
          .selectFrom('build_events')
          .select('payload')
          .where('build_id', '=', build.id)
          .where('type', '=', 'log')
          .execute();
        expect(stored.some((row) => row.payload.includes('"output_offset"'))).toBe(true);
        const streamedLogs = stream.events.filter((e) => e.event === 'log');
        expect(streamedLogs.length).toBeGreaterThan(0);
        expect(streamedLogs.filter((e) => 'output_offset' in e.data)).toEqual([]);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(await second.runtime.kubernetes!.reapOnce()).toHaveLength(1);
      });
    },
  );
}
