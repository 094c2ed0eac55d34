// A web node running steps as pods is killed (SIGKILL) while a resource script runs — a put's `out`, a put's
// implicit get's `in`, a resource's or a resource type's `check` — or while a `retry`'s second attempt runs
// (a step name the plan uses twice); a new node starts on the same database and cluster. The step is
// collected from its pod, never run a second time: a resource script's JSON response, kept in its pod's
// output file, is read from its start, and the step finishes with it as it would have — the put records its
// version as the job's output, the implicit get after it runs, the get records its version's metadata and its
// `((.:name.field))` var, the check saves its versions and its end — and the build goes on. The retry's
// attempts are told apart by their plan ids, which their pods record.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import type { RunningJetBridge } from '../src/server.js';
import { logText, readBuildEvents, statusesOf, type EnvelopeEvent } from './execute-client.js';
import { getJson, shTask, startBuild } from './execute-flow.js';
import { ADMIN, loginToken, until, webCliMissing } from './harness.js';
import { ARTIFACT_MODES } from './kubernetes-cluster.js';
import { startRestartFixture, type RestartFixture } from './kubernetes-restart-fixture.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/** The custom type's image: the test cluster runs its /opt/resource scripts as this host's processes. */
const WAITER_IMAGE = 'example.com/waiter-resource';

/**
 * `out`, `in` and `check` wait (printing on stderr) until /tmp/go exists in their pod when their params (a
 * check: its source) say `wait: out` / `wait: in` / `wait: check`. `out` creates version put-1; `in` keeps
 * its request and a file in the artifact and answers the version asked for, with metadata; `check` finds
 * c1 and c2.
 */
async function waiterImage(root: string): Promise<string> {
  const dir = path.join(root, 'waiter-resource-image');
  await mkdir(path.join(dir, 'opt', 'resource'), { recursive: true });
  const wait = (script: string) =>
    `echo "${script}: started" >&2
if echo "$request" | grep -q '"wait":"${script}"'; then
  while [ ! -f /tmp/go ]; do echo "${script}: waiting" >&2; sleep 0.05; done
fi`;
  const scripts: Record<string, string> = {
    check: `request=$(cat)
${wait('check')}
echo "check: done" >&2
echo '[{"v":"c1"},{"v":"c2"}]'`,
    out: `request=$(cat)
${wait('out')}
echo "out: done" >&2
echo '{"version":{"v":"put-1"},"metadata":[{"name":"by","value":"out"}]}'`,
    in: `request=$(cat)
${wait('in')}
echo "$request" > "$1/request"
echo fetched > "$1/file"
version=$(echo "$request" | sed -n 's/.*"version":\\({[^}]*}\\).*/\\1/p')
echo "in: done" >&2
echo "{\\"version\\":$version,\\"metadata\\":[{\\"name\\":\\"who\\",\\"value\\":\\"waited-in\\"}]}"`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    await writeFile(path.join(dir, 'opt', 'resource', name), `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

const PIPELINE = (task: (name: string, script: string, extra?: object) => string) => `
resource_types:
- name: waiter
  type: registry-image
  source: {repository: ${WAITER_IMAGE}}
- name: nested
  type: waiter
  source: {wait: check}
resources:
- name: thing
  type: waiter
  check_every: never
  source: {}
- name: checked
  type: waiter
  check_every: never
  source: {wait: check}
- name: of-nested
  type: nested
  check_every: never
  source: {}
jobs:
- name: uses-checked
  plan:
  - get: checked
  - get: of-nested
- name: put-across
  plan:
  - put: thing
    params: {wait: out}
  - ${task('show', 'cat thing/request; echo; cat thing/file; echo "who=((.:thing.who))"', { inputs: [{ name: 'thing' }] })}
- name: get-across
  plan:
  - put: thing
    get_params: {wait: in}
  - ${task('show', 'cat thing/request; echo; cat thing/file; echo "who=((.:thing.who))"', { inputs: [{ name: 'thing' }] })}
`;

for (const { mode, skip: modeSkip } of ARTIFACT_MODES) {
  const skip = modeSkip ?? webCliMissing;
  const describeMode = skip === undefined ? describe : describe.skip;
  describeMode(
    `a killed web node's resource step or retried step, ${mode} artifacts${skip ? ` [skipped: ${skip}]` : ''}`,
    () => {
      let fx: RestartFixture;
      let second: RunningJetBridge | undefined;
      let imageRoot: string | undefined;

      beforeAll(async () => {
        imageRoot = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-waiter-'));
        fx = await startRestartFixture(mode, { images: { [WAITER_IMAGE]: await waiterImage(imageRoot) } });
      });

      afterAll(async () => {
        await fx?.close();
        if (imageRoot !== undefined) await rm(imageRoot, { recursive: true, force: true });
      });

      /** Helper `spawn`s (each starts one process) into the pods whose names contain `part`, by pod. */
      const spawnsInto = (part: string): Map<string, number> => {
        const spawns = new Map<string, number>();
        for (const session of fx.cluster.server.execSessions()) {
          if (!session.pod.includes(part) || !session.command.includes('spawn')) continue;
          spawns.set(session.pod, (spawns.get(session.pod) ?? 0) + 1);
        }
        return spawns;
      };

      /**
       * Trigger `job` on a first (CLI) node, kill it once `waitingFor` is logged, start a second node and let
       * the waiting script go on (before the second node starts when `finishWhileDown`): the build's events.
       */
      async function jobAcrossAKill(
        job: string,
        waitingFor: string,
        podPart: string,
        finishWhileDown: boolean,
      ): Promise<{ build: { id: number; name: string }; events: EnvelopeEvent[]; pod: string }> {
        await second?.close();
        second = undefined;
        const node = await fx.spawnFirstNode();
        const token = await loginToken(node.url, ADMIN);
        await setWaitsPipeline(node.url, token);
        const reply = await call(
          pipelineUrl(node.url, 'main', 'waits', `/jobs/${job}/builds`),
          token,
          'POST',
        );
        expect(reply.status).toBe(200);
        const build = JSON.parse(reply.text) as { id: number; name: string };
        const firstEvents: EnvelopeEvent[] = [];
        const firstStream = readBuildEvents(node.url, token, build.id, {
          onEvent: (event) => void firstEvents.push(event),
        }).catch(() => undefined);
        await until(
          `the ${waitingFor} to wait`,
          () => (logText(firstEvents, 'stderr').includes(`${waitingFor}: waiting`) ? true : undefined),
          60_000,
        );
        await fx.kill9(node);
        await firstStream;
        const pod = (await fx.cluster.podNames()).find(
          (name) => name.includes(`-${job}-b${build.name}-`) && name.includes(podPart),
        );
        expect(pod).toBeDefined();
        if (finishWhileDown) await fx.cluster.exec(pod!, ['touch', '/tmp/go']);

        second = await fx.startNode();
        const token2 = await loginToken(second.url, ADMIN);
        const events: EnvelopeEvent[] = [];
        const streaming = readBuildEvents(second.url, token2, build.id, {
          onEvent: (event) => void events.push(event),
        });
        if (!finishWhileDown) {
          await until('the new node to follow the step', () =>
            logText(events, 'stderr').includes('following this step') ? true : undefined,
          );
          await fx.cluster.exec(pod!, ['touch', '/tmp/go']);
        }
        const stream = await streaming;
        expect(stream.ended).toBe(true);
        return { build, events: stream.events, pod: pod! };
      }

      const finishOf = (events: EnvelopeEvent[], event: string) =>
        events.find((e) => e.event === event)?.data;

      /** Sets the pipeline `waits` on `url`, unpaused. */
      async function setWaitsPipeline(url: string, token: string): Promise<void> {
        await setPipeline(
          url,
          token,
          'main',
          'waits',
          PIPELINE(
            (name, script, extra = {}) => `{task: ${name}, config: ${JSON.stringify(shTask(script, extra))}}`,
          ),
        );
        expect((await call(pipelineUrl(url, 'main', 'waits', '/unpause'), token, 'PUT')).status).toBe(200);
      }

      /** The version put-1 of `thing`, as the API lists it, and the build's outputs. */
      async function recorded(buildId: number) {
        const token = await loginToken(second!.url, ADMIN);
        const versions = await getJson<
          Array<{ version: Record<string, string>; metadata?: Array<{ name: string; value: string }> }>
        >(pipelineUrl(second!.url, 'main', 'waits', '/resources/thing/versions'), token);
        const resources = await getJson<{
          outputs: Array<{ name: string; version: Record<string, string> }>;
        }>(`${second!.url}/api/v1/builds/${buildId}/resources`, token);
        return { version: versions.find((v) => v.version['v'] === 'put-1'), outputs: resources.outputs };
      }

      it('a put whose `out` finished while no web node ran: its version is recorded, its implicit get runs, the build goes on', async () => {
        const { build, events, pod } = await jobAcrossAKill('put-across', 'out', '-put-', true);
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        expect(finishOf(events, 'finish-put')).toMatchObject({ exit_status: 0, version: { v: 'put-1' } });
        expect(events.filter((e) => e.event === 'finish-put')).toHaveLength(1);
        // The implicit get fetched what the collected put created; the task saw it.
        expect(finishOf(events, 'finish-get')).toMatchObject({ exit_status: 0, version: { v: 'put-1' } });
        const stdout = logText(events, 'stdout');
        expect(stdout).toContain('"version":{"v":"put-1"}');
        expect(stdout).toContain('fetched\nwho=waited-in\n');
        // `out` ran once, across both nodes; its stderr is in the log once.
        expect([...spawnsInto(pod).values()]).toEqual([1]);
        expect(logText(events, 'stderr').split('out: started').length).toBe(2);
        expect(logText(events, 'stderr').split('out: done').length).toBe(2);
        expect(events.filter((e) => e.event === 'initialize-put')).toHaveLength(1);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        const { version, outputs } = await recorded(build.id);
        expect(version).toBeDefined();
        expect(outputs).toEqual([expect.objectContaining({ name: 'thing', version: { v: 'put-1' } })]);
      });

      it("a put's implicit get followed after a restart: its version and metadata are recorded, the task sees them", async () => {
        const { build, events, pod } = await jobAcrossAKill('get-across', 'in', '-get-', false);
        expect(statusesOf(events)).toEqual(['started', 'succeeded']);
        expect(events.filter((e) => e.event === 'error')).toEqual([]);
        expect(finishOf(events, 'finish-get')).toMatchObject({
          exit_status: 0,
          version: { v: 'put-1' },
          metadata: [{ name: 'who', value: 'waited-in' }],
        });
        expect(events.filter((e) => e.event === 'finish-get')).toHaveLength(1);
        expect(events.filter((e) => e.event === 'initialize-get')).toHaveLength(1);
        expect(logText(events, 'stdout')).toContain('fetched\nwho=waited-in\n');
        expect([...spawnsInto(pod).values()]).toEqual([1]);
        expect(logText(events, 'stderr').split('in: started').length).toBe(2);
        events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        const { version } = await recorded(build.id);
        expect(version?.metadata).toEqual([{ name: 'who', value: 'waited-in' }]);
      });

      /**
       * Ask for a check at `checkPath` of the pipeline on a first (CLI) node, kill it while `check` waits, let
       * it finish while no node runs, start a second node: the check build's events, its pod and the node.
       */
      async function checkAcrossAKill(
        checkPath: string,
        podPart: string,
      ): Promise<{ events: EnvelopeEvent[]; pod: string; node: RunningJetBridge; token: string }> {
        await second?.close();
        second = undefined;
        const node = await fx.spawnFirstNode();
        const token = await loginToken(node.url, ADMIN);
        await setWaitsPipeline(node.url, token);
        const check = await call(pipelineUrl(node.url, 'main', 'waits', checkPath), token, 'POST', {
          from: null,
        });
        expect(check.status).toBe(201);
        const build = check.json<{ id: number; name: string }>();
        const firstEvents: EnvelopeEvent[] = [];
        const firstStream = readBuildEvents(node.url, token, build.id, {
          onEvent: (event) => void firstEvents.push(event),
        }).catch(() => undefined);
        await until(
          'the check to wait',
          () => (logText(firstEvents, 'stderr').includes('check: waiting') ? true : undefined),
          60_000,
        );
        await fx.kill9(node);
        await firstStream;
        const pods = (await fx.cluster.podNames()).filter(
          (name) => name.startsWith('jb-check-') && name.includes(podPart),
        );
        expect(pods).toHaveLength(1);
        await fx.cluster.exec(pods[0]!, ['touch', '/tmp/go']);

        second = await fx.startNode();
        const token2 = await loginToken(second.url, ADMIN);
        const stream = await readBuildEvents(second.url, token2, build.id);
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
        expect(stream.events.filter((e) => e.event === 'initialize-check')).toHaveLength(1);
        expect(stream.events.find((e) => e.event === 'finish')?.data).toMatchObject({ succeeded: true });
        expect(logText(stream.events, 'stderr').split('check: started').length).toBe(2);
        expect([...spawnsInto(pods[0]!).values()]).toEqual([1]);
        stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
        return { events: stream.events, pod: pods[0]!, node: second, token: token2 };
      }

      it("a resource's check build whose `check` finished while no web node ran: its versions are saved, the check succeeds", async () => {
        const { node, token } = await checkAcrossAKill('/resources/checked/check', 'checked');
        const versions = await getJson<Array<{ version: Record<string, string> }>>(
          pipelineUrl(node.url, 'main', 'waits', '/resources/checked/versions'),
          token,
        );
        expect(versions.map((v) => v.version['v']).sort()).toEqual(['c1', 'c2']);
        // The check's end is recorded (just after the build's final status): the resource shows when it was
        // last checked.
        await until('the check end to be recorded', async () => {
          const resource = await getJson<{ last_checked?: number }>(
            pipelineUrl(node.url, 'main', 'waits', '/resources/checked'),
            token,
          );
          return (resource.last_checked ?? 0) > 0 ? true : undefined;
        });
      });

      it("a resource type's check build (fly check-resource-type) goes on the same way: the type's versions are saved", async () => {
        const { node } = await checkAcrossAKill('/resource-types/nested/check', 'nested');
        // The type's check is recorded just after the build's final status: its scope, its versions, its end.
        const saved = async () =>
          (
            await sql<{ v: string; checked: boolean }>`
              select v.version ->> 'v' as v, s.last_check_end_time is not null as checked
              from resource_types t
              join resource_config_scopes s on s.id = t.resource_config_scope_id
              join resource_config_versions v on v.resource_config_scope_id = s.id
              where t.name = 'nested' and t.check_error is null
              order by 1`.execute(node.ctx.db)
          ).rows;
        await until('the type check to be recorded', async () => {
          const rows = await saved();
          return rows.length === 2 && rows.every((row) => row.checked) ? true : undefined;
        }).catch(() => undefined);
        expect(await saved()).toEqual([
          { v: 'c1', checked: true },
          { v: 'c2', checked: true },
        ]);
      });

      it("a retry's second attempt (the same step name as the first) is collected as that attempt", async () => {
        await second?.close();
        second = undefined;
        const node = await fx.spawnFirstNode();
        const token = await loginToken(node.url, ADMIN);
        const attempt = (id: string, n: number, script: string) => ({
          id,
          attempts: [n],
          task: { name: 'flaky', privileged: false, hermetic: false, config: shTask(script) },
        });
        const plan = {
          id: 'ensure',
          ensure: {
            step: {
              id: 'tries',
              retry: [
                attempt('try-1', 1, 'echo first; exit 1'),
                attempt(
                  'try-2',
                  2,
                  'echo second; while [ ! -f /tmp/go ]; do echo waiting; sleep 0.05; done; echo ok',
                ),
              ],
            },
            ensure: {
              id: 'fin',
              task: { name: 'fin', privileged: false, hermetic: false, config: shTask('echo fin') },
            },
          },
        };
        const build = await startBuild(node.url, token, plan);
        const firstEvents: EnvelopeEvent[] = [];
        const firstStream = readBuildEvents(node.url, token, build.id, {
          onEvent: (event) => void firstEvents.push(event),
        }).catch(() => undefined);
        await until('the second attempt to wait', () =>
          logText(firstEvents).includes('waiting\n') ? true : undefined,
        );
        await fx.kill9(node);
        await firstStream;

        second = await fx.startNode();
        const token2 = await loginToken(second.url, ADMIN);
        const events: EnvelopeEvent[] = [];
        const streaming = readBuildEvents(second.url, token2, build.id, {
          onEvent: (event) => void events.push(event),
        });
        await until('the new node to follow the attempt', () =>
          logText(events, 'stderr').includes('following this step') ? true : undefined,
        );
        // The running attempt's pod: the one not yet exited of the two named flaky.
        const pods = (await fx.cluster.podNames()).filter((name) => name.includes(`-b${build.name}-flaky-`));
        expect(pods).toHaveLength(2);
        for (const pod of pods) await fx.cluster.exec(pod, ['touch', '/tmp/go']);
        const stream = await streaming;
        expect(stream.ended).toBe(true);
        expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
        const finishes = stream.events
          .filter((e) => e.event === 'finish-task')
          .map((e) => [(e.data['origin'] as { id: string }).id, e.data['exit_status']]);
        expect(finishes).toEqual([
          ['try-1', 1],
          ['try-2', 0],
          ['fin', 0],
        ]);
        // Each attempt's output under its own plan id, the collected one's included.
        const stepLog = (id: string) =>
          logText(
            stream.events.filter((e) => (e.data['origin'] as { id?: string } | undefined)?.id === id),
            'stdout',
          );
        expect(stepLog('try-1')).toBe('first\n');
        expect(stepLog('try-2')).toMatch(/^second\n(waiting\n)+ok\n$/);
        // Each attempt ran once.
        expect([...spawnsInto(`-b${build.name}-flaky-`).values()]).toEqual([1, 1]);
        stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
      });
    },
  );
}
