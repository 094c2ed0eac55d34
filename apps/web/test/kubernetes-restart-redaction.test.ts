// Secrets stay out of the build log across a restart on --runtime kubernetes. A task prints a ((var)) from
// the credentials file before, during and after its web node dies (kill -9; the first node is the built CLI
// in a child process): the node that collects the step redacts it as the first one did — the value is in no
// stored event, `((redacted))` is. Then, after a graceful hand-over, a node that cannot resolve the secrets
// (credentials file gone) withholds the rest of the output with a notice and still collects the exit status.
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import type { RunningJetBridge } from '../src/server.js';
import { executePlan, logText, readBuildEvents, statusesOf, type EnvelopeEvent } from './execute-client.js';
import { shTask, startBuild } from './execute-flow.js';
import { ADMIN, loginToken, until, webCliMissing } from './harness.js';
import { ARTIFACT_MODES, type TestCluster } from './kubernetes-cluster.js';
import { startRestartFixture, type RestartFixture } from './kubernetes-restart-fixture.js';

// One artifact mode is enough: redaction does not depend on how artifacts move.
const mode = ARTIFACT_MODES.find((candidate) => candidate.skip === undefined);
const skip = mode === undefined ? 'no artifact mode of the test cluster is available' : webCliMissing;

const SECRET = 's3cr3t-Restart-9f2q';

const describeIt = skip === undefined ? describe : describe.skip;
describeIt(
  `secrets in the output of a step collected after a restart${skip ? ` [skipped: ${skip}]` : ''}`,
  () => {
    let fx: RestartFixture;
    let cluster: TestCluster;
    let credentials: string;
    let second: RunningJetBridge | undefined;

    /** Every stored event of a build, as the database holds them. */
    async function storedPayloads(buildId: number): Promise<string[]> {
      const client = new pg.Client(fx.postgres.connection);
      await client.connect();
      try {
        const result = await client.query<{ payload: string }>(
          'select payload from build_events where build_id = $1 order by event_id',
          [buildId],
        );
        return result.rows.map((row) => row.payload);
      } finally {
        await client.end();
      }
    }

    beforeAll(async () => {
      fx = await startRestartFixture(mode!.mode, {
        env: (dataDir) => ({
          JETBRIDGE_CREDENTIALS_FILE: path.join(dataDir, 'credentials.yml'),
          CONCOURSE_SECRET_RETRY_ATTEMPTS: '1',
        }),
      });
      cluster = fx.cluster;
      credentials = path.join(fx.dataDir, 'credentials.yml');
      await writeFile(credentials, `main/restart-token: ${SECRET}\n`);
    });

    afterAll(async () => {
      await fx?.close();
    });

    it('a kill -9 restart: the node collecting the step redacts the secret as the one that ran it', async () => {
      const node = await fx.spawnFirstNode();
      const { url } = node;
      const token = await loginToken(url, ADMIN);
      const script = [
        'echo "before: $TOKEN"',
        'while [ ! -f /tmp/go ]; do echo "tick $TOKEN"; echo "err $TOKEN" >&2; sleep 0.05; done',
        'echo "after: $TOKEN (${#TOKEN} chars)"',
        'exit 5',
      ].join('\n');
      const build = await startBuild(
        url,
        token,
        executePlan(shTask(script, { params: { TOKEN: '((restart-token))' } }), [], []),
      );
      const firstEvents: EnvelopeEvent[] = [];
      const firstStream = readBuildEvents(url, token, build.id, {
        onEvent: (event) => void firstEvents.push(event),
      }).catch(() => undefined);
      await until('the step to print a few lines', () =>
        logText(firstEvents).split('tick ((redacted))').length > 4 ? true : undefined,
      );
      await fx.kill9(node);
      await firstStream;
      await new Promise((resolve) => setTimeout(resolve, 300)); // lines printed while no node runs

      second = await fx.startNode();
      expect(second.runtime.kubernetes?.recovery.buildIds).toEqual([build.id]);
      const token2 = await loginToken(second.url, ADMIN);
      const [pod] = await cluster.podNames();
      const events: EnvelopeEvent[] = [];
      const streaming = readBuildEvents(second.url, token2, build.id, {
        onEvent: (event) => void events.push(event),
      });
      await until('the new node to follow the step', () =>
        logText(events, 'stderr').includes('following this step') ? true : undefined,
      );
      const atFollow = logText(events).length;
      await until('the new node to log more lines', () =>
        logText(events).slice(atFollow).includes('tick ((redacted))') ? true : undefined,
      );
      await cluster.exec(pod!, ['touch', '/tmp/go']);
      const stream = await streaming;
      // The build goes on from the collected step (its exit status fails it), as without the restart.
      expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
      expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(5);

      const log = logText(stream.events);
      const afterNotice = log.slice(log.indexOf('following this step'));
      expect(afterNotice).toContain('tick ((redacted))');
      expect(afterNotice).toContain(`after: ((redacted)) (${SECRET.length} chars)`);
      expect(logText(stream.events, 'stderr')).toContain('err ((redacted))');
      const stored = await storedPayloads(build.id);
      expect(stored.length).toBe(stream.events.length);
      expect(stored.filter((payload) => payload.includes(SECRET))).toEqual([]);
      expect(log).not.toContain(SECRET);
      // The running node stored the var's name (never its value) as it resolved it.
      const client = new pg.Client(fx.postgres.connection);
      await client.connect();
      try {
        const refs = await client.query('select source, path from build_var_refs where build_id = $1', [
          build.id,
        ]);
        expect(refs.rows).toEqual([{ source: '', path: 'restart-token' }]);
      } finally {
        await client.end();
      }
    });

    it('secrets that cannot be resolved after a hand-over: the rest of the output is withheld, the exit status collected', async () => {
      const token = await loginToken(second!.url, ADMIN);
      const build = await startBuild(
        second!.url,
        token,
        executePlan(
          shTask(
            'while [ ! -f /tmp/go ]; do echo "tick $TOKEN"; sleep 0.05; done; echo "last $TOKEN"; exit 3',
            {
              params: { TOKEN: '((restart-token))' },
            },
          ),
          [],
          [],
        ),
      );
      const events: EnvelopeEvent[] = [];
      const streaming = readBuildEvents(second!.url, token, build.id, {
        onEvent: (event) => void events.push(event),
      }).catch(() => undefined);
      await until('the step to print', () =>
        logText(events).includes('tick ((redacted))') ? true : undefined,
      );
      const [pod, ...others] = (await cluster.podNames()).filter((name) => name.includes(`-b${build.id}-`));
      expect(others).toEqual([]);
      await second!.close(); // graceful: the build is handed over, its pod left running
      second = undefined;
      await streaming;
      // The credential manager cannot answer on the next node.
      await rename(credentials, `${credentials}.gone`);
      try {
        second = await fx.startNode();
        expect(second.runtime.kubernetes!.recovery.buildIds).toEqual([build.id]);
        const token2 = await loginToken(second.url, ADMIN);
        const more: EnvelopeEvent[] = [];
        const following = readBuildEvents(second.url, token2, build.id, {
          onEvent: (event) => void more.push(event),
        });
        await until('the withheld notice', () => (logText(more).includes('withheld') ? true : undefined));
        await cluster.exec(pod!, ['touch', '/tmp/go']);
        const stream = await following;
        expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
        expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(3);
        const log = logText(stream.events);
        const notice = log.slice(log.indexOf('following this step'));
        expect(notice).toMatch(
          /jetbridge: the rest of this step's output is withheld: its secrets could not be resolved \(\(\(restart-token\)\)\): credentials file .*; its exit status is still collected\n$/,
        );
        expect(log).not.toContain('last');
        const stored = await storedPayloads(build.id);
        expect(stored.filter((payload) => payload.includes(SECRET))).toEqual([]);
        // The collected step is replayed when the build goes on: its vars are not resolved again.
        expect(stream.events.filter((e) => e.event === 'error')).toEqual([]);
      } finally {
        await rename(`${credentials}.gone`, credentials);
      }
    });
  },
);
