// A web node running steps as pods is killed (SIGKILL) in the middle of a step, then a new one starts on the
// same database and cluster: the step, still running in its pod, is followed to its end and its result
// collected — never run a second time — and the build goes on: the steps it finished before are replayed
// (not run, not logged again), the rest of the plan and its hooks run, and the build ends as it would have
// without the restart. Its output resumes where the stored build log stands: every line printed before,
// during and after the outage is in the log exactly once, in order. The first web node is the built CLI in a
// child process (what `pnpm start` runs; the test script builds before jest runs), so it really dies; the
// second one runs in this process.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import type { RunningJetBridge } from '../src/server.js';
import {
  executePlan,
  logText,
  readBuildEvents,
  statusesOf,
  type EnvelopeEvent,
  type TaskConfigJson,
} from './execute-client.js';
import { getJson, shTask, startBuild } from './execute-flow.js';
import { ADMIN, loginToken, until, webCliMissing } from './harness.js';
import { ARTIFACT_MODES, type TestCluster } from './kubernetes-cluster.js';
import { startRestartFixture, type RestartFixture } from './kubernetes-restart-fixture.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/** Where step pods have the helper (packages/runtime-k8s/src/pods/step-pod.ts). */
const HELPER_IN_POD = '/.jetbridge/bin/jetbridge-helper';

for (const { mode, skip: modeSkip } of ARTIFACT_MODES) {
  const skip = modeSkip ?? webCliMissing;
  const describeMode = skip === undefined ? describe : describe.skip;
  describeMode(
    `a killed web node's running step, ${mode} artifacts${skip ? ` [skipped: ${skip}]` : ''}`,
    () => {
      let fx: RestartFixture;
      let cluster: TestCluster;
      let second: RunningJetBridge | undefined;
      const secondLogs: Array<Record<string, unknown>> = [];

      beforeAll(async () => {
        fx = await startRestartFixture(mode, { env: () => ({ CONCOURSE_LOG_LEVEL: 'debug' }) });
        cluster = fx.cluster;
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
        await fx?.close();
      });

      it('collects the step after a restart instead of running it again', async () => {
        // The first web node: the CLI, killed with SIGKILL while the step runs.
        const node = await fx.spawnFirstNode();
        const { url } = node;
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
        await fx.kill9(node);
        await firstStream;
        // Lines printed while no web node runs.
        await new Promise((resolve) => setTimeout(resolve, 500));

        // The second web node, on the same database, data directory and cluster.
        second = await fx.startNode(secondLogs);
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
        // Its exit status counts: the build goes on from it and fails, as it would have without the restart.
        expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
        const log = logText(stream.events);
        expect(log).toContain('before-restart');
        expect(log).toContain('not running it again');
        expect(log).toContain('after-restart');
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(7);
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
        expect(stream.events.filter((e) => e.event === 'initialize-task')).toHaveLength(1);
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

        second = await fx.startNode();
        expect(second.runtime.kubernetes!.recovery.buildIds).toEqual([build.id]);
        const token2 = await loginToken(second.url, ADMIN);
        const stream = await readBuildEvents(second.url, token2, build.id);
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
        expect(logText(stream.events, 'stdout')).toBe(
          `sleeping\n${Array.from({ length: 40 }, (_, i) => `n ${i + 1}\n`).join('')}done\n`,
        );
        expect(
          logText(stream.events, 'stderr')
            .split('\n')
            .filter((line) => line !== '' && !line.startsWith('jetbridge: ')),
        ).toEqual(Array.from({ length: 40 }, (_, i) => `e ${i + 1}`));
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(0);
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
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
        second = await fx.startNode(logs);
        expect(
          logs
            .filter((line) => line['msg'] === 'collecting the steps of a build interrupted by a restart')
            .map((line) => line['buildId']),
        ).toEqual([build.id]);
        const stream = await readBuildEvents(second.url, await loginToken(second.url, ADMIN), build.id);
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
        expect(logText(stream.events, 'stdout')).toBe(
          Array.from({ length: 30 }, (_, i) => `n ${i + 1}\n`).join(''),
        );
        expect(logText(stream.events, 'stderr')).toContain('collecting the result of this step from its pod');
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(4);
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
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

      /**
       * A 3-step build — step-a writes `a`, step-b reads it, writes `b` and prints numbered lines until /tmp/go
       * exists in its pod, then ends with `bEnd`; step-c prints `b` — under on_success/on_failure/ensure hooks,
       * started on a CLI web node that is killed (SIGKILL) while step-b runs; a second node takes it over.
       */
      async function threeStepsAcrossAKill(
        bEnd: string,
        kind: 'one-off' | 'job' | 'pipeline-one-off' = 'one-off',
        /** The build's pods are lost (deleted, as with their node) while no web node runs. */
        losePods = false,
      ): Promise<{
        build: { id: number };
        events: EnvelopeEvent[];
        /** Helper `spawn`s (each starts one step's process) into each pod of the build, by pod. */
        spawns: Map<string, number>;
        logs: Array<Record<string, unknown>>;
      }> {
        await second?.close();
        second = undefined;
        const node = await fx.spawnFirstNode();
        const token = await loginToken(node.url, ADMIN);
        const task = (id: string, name: string, script: string, extra: Partial<TaskConfigJson> = {}) => ({
          id,
          task: { name, privileged: false, hermetic: false, config: shTask(script, extra) },
        });
        const steps = {
          id: 'steps',
          do: [
            task('a', 'step-a', 'echo from-a > a/file; echo a-ran', { outputs: [{ name: 'a' }] }),
            task(
              'b',
              'step-b',
              [
                'cat a/file > b/file; echo and-b >> b/file',
                'i=0',
                'while [ ! -f /tmp/go ]; do i=$((i+1)); echo "b $i"; sleep 0.05; done',
                'echo b-done',
                bEnd,
              ].join('\n'),
              { inputs: [{ name: 'a' }], outputs: [{ name: 'b' }] },
            ),
            task('c', 'step-c', 'cat b/file', { inputs: [{ name: 'b' }] }),
          ],
        };
        const plan = {
          id: 'fin-hook',
          ensure: {
            step: {
              id: 'fail-hook',
              on_failure: {
                step: {
                  id: 'ok-hook',
                  on_success: { step: steps, on_success: task('yay', 'yay', 'echo yay') },
                },
                on_failure: task('boo', 'boo', 'echo boo'),
              },
            },
            ensure: task('fin', 'fin', 'echo fin'),
          },
        };
        const build =
          kind === 'one-off'
            ? await startBuild(node.url, token, plan)
            : kind === 'job'
              ? await triggerJob(node.url, token)
              : await pipelineOneOff(node.url, token, plan);
        // Pods are named jb-task-[<pipeline>-][<job>-]b<build name>-<step>-<hash>.
        const podPrefix = {
          'one-off': `jb-task-b${build.name}-`,
          job: `jb-task-three-three-b${build.name}-`,
          'pipeline-one-off': `jb-task-adhoc-b${build.name}-`,
        }[kind];
        const ofBuild = (pod: string): boolean => pod.startsWith(podPrefix);
        const firstEvents: EnvelopeEvent[] = [];
        const firstStream = readBuildEvents(node.url, token, build.id, {
          onEvent: (event) => void firstEvents.push(event),
        }).catch(() => undefined);
        await until('step-b to print a few lines', () =>
          logText(firstEvents).includes('b 5\n') ? true : undefined,
        );
        await fx.kill9(node);
        await firstStream;
        await new Promise((resolve) => setTimeout(resolve, 300)); // lines printed while no node runs
        if (losePods) {
          const podsOfBuild = async () => (await cluster.podNames()).filter(ofBuild);
          for (const pod of await podsOfBuild()) {
            const res = await fetch(
              `${cluster.server.url}/api/v1/namespaces/${cluster.namespace}/pods/${pod}`,
              {
                method: 'DELETE',
                headers: { authorization: 'Bearer kube-test-server' },
              },
            );
            expect(res.status).toBe(200);
          }
          await until('the pods to be gone', async () =>
            (await podsOfBuild()).length === 0 ? true : undefined,
          );
        }

        const logs: Array<Record<string, unknown>> = [];
        second = await fx.startNode(logs);
        const token2 = await loginToken(second.url, ADMIN);
        const events: EnvelopeEvent[] = [];
        const streaming = readBuildEvents(second.url, token2, build.id, {
          onEvent: (event) => void events.push(event),
        });
        if (losePods) {
          // Nothing to follow: step-b runs again, in a new pod.
          await until('step-b to run again', () =>
            logText(events).split('b 1\n').length > 2 ? true : undefined,
          );
        } else {
          await until('the new node to follow step-b', () =>
            logText(events, 'stderr').includes('following this step') ? true : undefined,
          );
        }
        const podOfB = (await cluster.podNames()).find((pod) => ofBuild(pod) && pod.includes('step-b'));
        expect(podOfB).toBeDefined();
        await cluster.exec(podOfB!, ['touch', '/tmp/go']);
        const stream = await streaming;
        expect(stream.ended).toBe(true);
        const spawns = new Map<string, number>();
        for (const session of cluster.server.execSessions()) {
          if (session.namespace !== cluster.namespace || !session.command.includes('spawn')) continue;
          spawns.set(session.pod, (spawns.get(session.pod) ?? 0) + 1);
        }
        for (const pod of spawns.keys()) if (!ofBuild(pod)) spawns.delete(pod);
        return { build, events: stream.events, spawns, logs };
      }

      /** The same steps and hooks as a pipeline's job (each task's config inline), triggered: its build. */
      async function triggerJob(url: string, token: string): Promise<{ id: number; name: string }> {
        const task = (name: string, script: string, extra: Partial<TaskConfigJson> = {}) =>
          `{task: ${name}, config: ${JSON.stringify(shTask(script, extra))}}`;
        const yaml = `
jobs:
- name: three
  plan:
  - ${task('step-a', 'echo from-a > a/file; echo a-ran', { outputs: [{ name: 'a' }] })}
  - ${task('step-b', 'cat a/file > b/file; echo and-b >> b/file; i=0; while [ ! -f /tmp/go ]; do i=$((i+1)); echo "b $i"; sleep 0.05; done; echo b-done', { inputs: [{ name: 'a' }], outputs: [{ name: 'b' }] })}
  - ${task('step-c', 'cat b/file', { inputs: [{ name: 'b' }] })}
  on_success: ${task('yay', 'echo yay')}
  on_failure: ${task('boo', 'echo boo')}
  ensure: ${task('fin', 'echo fin')}
`;
        await setPipeline(url, token, 'main', 'three', yaml);
        expect((await call(pipelineUrl(url, 'main', 'three', '/unpause'), token, 'PUT')).status).toBe(200);
        const reply = await call(pipelineUrl(url, 'main', 'three', '/jobs/three/builds'), token, 'POST');
        expect(reply.status).toBe(200);
        return JSON.parse(reply.text) as { id: number; name: string };
      }

      /** `plan` as a one-off build of the pipeline `adhoc` (`fly execute -j`: no job build record): its build. */
      async function pipelineOneOff(
        url: string,
        token: string,
        plan: unknown,
      ): Promise<{ id: number; name: string }> {
        const yaml = `jobs:\n- name: j\n  plan:\n  - {task: t, config: ${JSON.stringify(shTask('true'))}}\n`;
        await setPipeline(url, token, 'main', 'adhoc', yaml);
        const reply = await call(pipelineUrl(url, 'main', 'adhoc', '/builds'), token, 'POST', plan);
        expect(reply.status).toBe(201);
        return JSON.parse(reply.text) as { id: number; name: string };
      }

      /** The plan ids of the tasks initialized in `events`, in order. */
      const tasksRun = (events: EnvelopeEvent[]): string[] =>
        events
          .filter((e) => e.event === 'initialize-task')
          .map((e) => (e.data['origin'] as { id: string }).id);

      /** A step's log (one stream), by plan id. */
      const stepLog = (events: EnvelopeEvent[], id: string, source: 'stdout' | 'stderr' = 'stdout') =>
        logText(
          events.filter((e) => (e.data['origin'] as { id?: string } | undefined)?.id === id),
          source,
        );

      it('a 3-step build killed during its 2nd step goes on: the finished step is not run again, the rest runs, the build succeeds', async () => {
        const { build, events, spawns, logs } = await threeStepsAcrossAKill('exit 0');
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        // Every step and hook ran once: step-a and step-b on the first node (step-b finished in its pod and was
        // collected), step-c and the hooks on the second.
        expect(tasksRun(events)).toEqual(['a', 'b', 'c', 'yay', 'fin']);
        expect([...spawns.values()]).toEqual([1, 1, 1, 1, 1]);
        expect([...spawns.keys()].filter((pod) => pod.includes('step-a'))).toHaveLength(1);
        expect([...spawns.keys()].filter((pod) => pod.includes('step-b'))).toHaveLength(1);
        expect(stepLog(events, 'a')).toBe('a-ran\n');
        // step-c read what step-b wrote from what step-a wrote: the artifacts outlived the restart.
        expect(stepLog(events, 'c')).toBe('from-a\nand-b\n');
        expect(stepLog(events, 'yay')).toBe('yay\n');
        expect(stepLog(events, 'fin')).toBe('fin\n');
        // step-b's lines: each once, in order, across the kill.
        const bLines = stepLog(events, 'b').split('\n');
        expect(bLines.pop()).toBe('');
        expect(bLines.pop()).toBe('b-done');
        expect(bLines.length).toBeGreaterThan(5);
        expect(bLines).toEqual(Array.from({ length: bLines.length }, (_, i) => `b ${i + 1}`));
        expect(
          events.filter((e) => e.event === 'finish-task').map((e) => (e.data['origin'] as { id: string }).id),
        ).toEqual(['a', 'b', 'c', 'yay', 'fin']);
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        expect(logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
        expect(
          logs.filter((line) => line['msg'] === 'replayed a finished step').map((line) => line['planId']),
        ).toEqual(['a', 'b']);
        // Its step results were kept only to resume it: gone once it is over (deleted just after the final
        // status is stored, so a reader of the events may look a moment before).
        const stepResultsLeft = async () =>
          (
            await sql<{ n: number }>`
              select count(*)::integer as n from build_step_results where build_id = ${build.id}`.execute(
              second!.ctx.db,
            )
          ).rows[0]?.n;
        await until(
          'the step results to be deleted',
          async () => ((await stepResultsLeft()) === 0 ? true : undefined),
          10_000,
        ).catch(() => undefined);
        expect(await stepResultsLeft()).toBe(0);
      });

      it('a 2nd step that fails across the kill fails the build: on_failure and ensure run, the 3rd step does not', async () => {
        const { events, spawns } = await threeStepsAcrossAKill('exit 3');
        expect(statusesOf(events)).toEqual(['started', 'failed']);
        expect(tasksRun(events)).toEqual(['a', 'b', 'boo', 'fin']);
        expect([...spawns.values()]).toEqual([1, 1, 1, 1]);
        expect(
          events
            .filter((e) => e.event === 'finish-task')
            .map((e) => [(e.data['origin'] as { id: string }).id, e.data['exit_status']]),
        ).toEqual([
          ['a', 0],
          ['b', 3],
          ['boo', 0],
          ['fin', 0],
        ]);
        expect(stepLog(events, 'boo')).toBe('boo\n');
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
      });

      it('a build whose pods were lost while no web node ran goes on: its finished step replayed, the lost one run again', async () => {
        const { events, spawns } = await threeStepsAcrossAKill('exit 0', 'one-off', true);
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        // step-b's first run is in the log up to the kill; it ran again from its start on the new node.
        expect(tasksRun(events)).toEqual(['a', 'b', 'b', 'c', 'yay', 'fin']);
        expect([...spawns.keys()].filter((pod) => pod.includes('step-a'))).toHaveLength(1);
        expect([...spawns.keys()].filter((pod) => pod.includes('step-b'))).toHaveLength(2);
        expect([...spawns.values()].every((count) => count === 1)).toBe(true);
        expect(stepLog(events, 'c')).toBe('from-a\nand-b\n');
        expect(stepLog(events, 'b')).toMatch(/^b 1\n(b \d+\n)*b 1\n(b \d+\n)*b-done\n$/);
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
      });

      it("a pipeline's one-off build (`fly execute -j`) goes on too, as its pipeline's build", async () => {
        const { build, events, spawns, logs } = await threeStepsAcrossAKill('exit 0', 'pipeline-one-off');
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        expect(tasksRun(events)).toEqual(['a', 'b', 'c', 'yay', 'fin']);
        expect([...spawns.values()]).toEqual([1, 1, 1, 1, 1]);
        expect(stepLog(events, 'c')).toBe('from-a\nand-b\n');
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        expect(logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
        const token = await loginToken(second!.url, ADMIN);
        const stored = await getJson<{ pipeline_name?: string; job_name?: string; status: string }>(
          `${second!.url}/api/v1/builds/${build.id}`,
          token,
        );
        expect(stored).toMatchObject({ pipeline_name: 'adhoc', status: 'succeeded' });
        expect(stored.job_name).toBeUndefined();
      });

      it("a job's build goes on too, with its job's hooks, and counts as the job's latest build", async () => {
        const { build, events, spawns, logs } = await threeStepsAcrossAKill('exit 0', 'job');
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        expect(events.filter((e) => e.event === 'initialize-task')).toHaveLength(5);
        expect([...spawns.values()]).toEqual([1, 1, 1, 1, 1]);
        expect(logText(events, 'stdout').match(/^(a-ran|from-a|and-b|yay|fin|b-done)$/gm)).toEqual([
          'a-ran',
          'b-done',
          'from-a',
          'and-b',
          'yay',
          'fin',
        ]);
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        expect(logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
        const token = await loginToken(second!.url, ADMIN);
        const job = await getJson<{ finished_build?: { id: number; status: string } }>(
          pipelineUrl(second!.url, 'main', 'three', '/jobs/three'),
          token,
        );
        expect(job.finished_build).toMatchObject({ id: build.id, status: 'succeeded' });
      });
    },
  );
}
