// Step recovery of resource steps (get/put/check run `/opt/resource/*` as process `resource`) and of other
// processes in a step pod: as the engine, only a resource script's stderr reaches the build log, redacted
// with the secrets of the build's plan; its stdout (the JSON response) and `fly intercept` shells never do.
// A collected task's exit status goes to the build's step journal and the build is handed on, unless which
// plan node the pod ran is unknown (a step name used twice) or the task never recorded its start.
// The pods are stand-ins (the worker is not what is tested here; kubernetes-restart-redaction.test.ts runs
// real pods); the database, the locks and the credential manager are real.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  createStartedOneOffBuild,
  findBuild,
  insertBuildEvents,
  type DatabaseHandle,
} from '@jetbridge/db';
import { startTestDatabase, type TestDatabase } from '@jetbridge/db/testing';
import type { ContainerMetadata, Process, ProcessIO } from '@jetbridge/runtime';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { DatabaseStepJournal } from '../builds/step-journal.js';
import type { CredentialManager } from '../creds/credential-manager.js';
import { StaticCredentialManager } from '../creds/static-credential-manager.js';
import type { OutputOffsets } from './logged-output-offsets.js';
import { StepRecovery, type RecoverableContainer, type RecoverableProcessState } from './step-recovery.js';

const SECRET = 'res-secret-77x';

let testDatabase: TestDatabase;
let database: DatabaseHandle;

beforeAll(async () => {
  testDatabase = await startTestDatabase();
  database = testDatabase.database;
}, 60_000);

afterAll(async () => {
  await testDatabase?.destroy();
});

/**
 * A step pod whose processes print `output` on attach and exit with `exitStatus`; `attached` records where
 * each attach asked the output to resume (undefined: from now).
 */
function stepPod(
  metadata: ContainerMetadata,
  processes: Record<string, { stdout: string; stderr: string; exitStatus: number }>,
  attached: Array<{ processId: string; from: OutputOffsets | undefined }> = [],
): RecoverableContainer {
  return {
    handle: `pod-${metadata.buildId}`,
    metadata,
    listProcesses: async (): Promise<RecoverableProcessState[]> =>
      Object.keys(processes).map((id) => ({ id, running: true })),
    attach: async (processId: string, io: ProcessIO, from?: OutputOffsets): Promise<Process> => {
      attached.push({ processId, from });
      const spec = processes[processId];
      if (spec === undefined) throw new Error(`no process ${processId}`);
      const printed = Promise.all(
        (['stdout', 'stderr'] as const).map(
          (source) =>
            new Promise<void>((resolve) => {
              const stream = io[source];
              if (stream === undefined) return resolve();
              // Written in two chunks, the secret split between them.
              const text = spec[source];
              const half = Math.floor(text.length / 2);
              stream.write(Buffer.from(text.slice(0, half)));
              stream.write(Buffer.from(text.slice(half)), () => resolve());
            }),
        ),
      );
      return {
        id: processId,
        wait: async () => {
          await printed;
          return spec.exitStatus;
        },
        signal: async () => undefined,
        resize: async () => undefined,
      };
    },
  };
}

async function recoverGetStep(
  credentials: CredentialManager,
  /** The resource script's stderr the build log has already, as the engine stored it. */
  loggedStderr?: string,
): Promise<{
  buildId: number;
  payloads: string[];
  attached: Array<{ processId: string; from: OutputOffsets | undefined }>;
}> {
  const build = await createStartedOneOffBuild(database.db, {
    id: await allocateBuildId(database.db),
    teamName: 'main',
    plan: {
      id: '1',
      do: [
        { id: '2', get: { name: 'repo', type: 'mock', source: { token: '((res-token))' } } },
        { id: '3', task: { name: 't', config: { run: { path: 'true' } } } },
      ],
    },
    createdBy: null,
    trackedBy: 'gone',
  });
  if (build === undefined) throw new Error('no build');
  if (loggedStderr !== undefined) {
    const event = {
      data: {
        time: 1,
        origin: { id: '2', source: 'stderr' },
        payload: loggedStderr,
        output_offset: Buffer.byteLength(loggedStderr),
      },
      event: 'log',
      version: '5.1',
      event_id: '0',
    };
    await insertBuildEvents(database.db, [
      { buildId: build.id, eventId: 0, type: 'log', version: '5.1', payload: JSON.stringify(event) },
    ]);
  }
  const attached: Array<{ processId: string; from: OutputOffsets | undefined }> = [];
  const pod = stepPod(
    { type: 'get', teamName: 'main', stepName: 'repo', buildId: build.id },
    {
      resource: {
        stdout: `{"version":{"ref":"${SECRET}"}}\n`,
        stderr: `fetching with ${SECRET}\n`,
        exitStatus: 0,
      },
      // A `fly intercept` shell in the same pod.
      'intercept-1': { stdout: `TOKEN=${SECRET}\n`, stderr: `sh: ${SECRET}\n`, exitStatus: 0 },
    },
    attached,
  );
  const recovery = await StepRecovery.start({
    worker: { recover: async () => [pod] },
    db: database.db,
    pool: database.pool,
    logger: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
    credentials,
  });
  expect(recovery.buildIds).toEqual([build.id]);
  await recovery.settled();
  await recovery.stop();
  expect((await findBuild(database.db, build.id))?.status).toBe('errored');
  const rows = await database.db
    .selectFrom('build_events')
    .select('payload')
    .where('build_id', '=', build.id)
    .orderBy('event_id')
    .execute();
  return { buildId: build.id, payloads: rows.map((row) => row.payload), attached };
}

function logPayloads(payloads: string[]): Array<{ source: string; payload: string }> {
  return payloads
    .map(
      (raw) => JSON.parse(raw) as { event: string; data: { origin?: { source?: string }; payload?: string } },
    )
    .filter((event) => event.event === 'log')
    .map((event) => ({ source: event.data.origin?.source ?? '', payload: event.data.payload ?? '' }));
}

describe('step recovery of a resource step', () => {
  it("logs only the resource script's stderr, redacted; never its response nor an intercept shell", async () => {
    const { payloads } = await recoverGetStep(new StaticCredentialManager({ 'main/res-token': SECRET }));
    expect(payloads.filter((payload) => payload.includes(SECRET))).toEqual([]);
    const logs = logPayloads(payloads);
    expect(logs.filter((log) => log.source === 'stdout')).toEqual([]);
    const stderr = logs.map((log) => log.payload).join('');
    expect(stderr).toContain('fetching with ((redacted))\n');
    expect(stderr).not.toContain('TOKEN=');
    expect(stderr).not.toContain('sh: ');
  });

  it("resumes the resource script's stderr where the build log stands, its events carrying the offset", async () => {
    const before = 'resolving… ✓\n';
    const { payloads, attached } = await recoverGetStep(
      new StaticCredentialManager({ 'main/res-token': SECRET }),
      before,
    );
    // Only the step's own process resumes at the logged offsets (its stdout, the response, is never logged);
    // an intercept shell is followed from now.
    expect(attached).toEqual([
      { processId: 'resource', from: { stdout: 0, stderr: Buffer.byteLength(before) } },
      { processId: 'intercept-1', from: undefined },
    ]);
    const resumed = payloads
      .map((raw) => JSON.parse(raw) as { event: string; data: { payload?: string; output_offset?: number } })
      .filter((event) => event.event === 'log' && event.data.payload?.startsWith('fetching'));
    expect(resumed.map((event) => event.data.payload)).toEqual(['fetching with ((redacted))\n']);
    expect(resumed[0]?.data.output_offset).toBe(
      Buffer.byteLength(before) + Buffer.byteLength(`fetching with ${SECRET}\n`),
    );
  });

  it('withholds its output when the secrets cannot be resolved', async () => {
    const { payloads } = await recoverGetStep({
      lookup: async () => {
        throw new Error('credential manager unreachable');
      },
    });
    expect(payloads.filter((payload) => payload.includes(SECRET))).toEqual([]);
    const stderr = logPayloads(payloads)
      .map((log) => log.payload)
      .join('');
    expect(stderr).toContain(
      "jetbridge: the rest of this step's output is withheld: its secrets could not be resolved (((res-token))): credential manager unreachable; its exit status is still collected\n",
    );
    expect(stderr).not.toContain('fetching');
  });
});

describe('step recovery of a task, then the build goes on', () => {
  /** A started build of `plan` whose task `t` runs in a pod (exit 3 when followed), its journal as given. */
  async function recoverTask(
    plan: Record<string, unknown>,
    journal: (j: DatabaseStepJournal) => Promise<void>,
  ): Promise<{ buildId: number; resumed: number[]; status: string | undefined }> {
    const build = await createStartedOneOffBuild(database.db, {
      id: await allocateBuildId(database.db),
      teamName: 'main',
      plan,
      createdBy: null,
      trackedBy: 'gone',
    });
    if (build === undefined) throw new Error('no build');
    await journal(DatabaseStepJournal.fresh(database.db, build.id));
    const pod = stepPod(
      { type: 'task', teamName: 'main', stepName: 't', buildId: build.id },
      { task: { stdout: 'rest\n', stderr: '', exitStatus: 3 } },
    );
    const recovery = await StepRecovery.start({
      worker: { recover: async () => [pod] },
      db: database.db,
      pool: database.pool,
      logger: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
      credentials: new StaticCredentialManager({}),
    });
    const resumed: number[] = [];
    recovery.useResumer(async (resumedBuild, releaseLock) => {
      resumed.push(resumedBuild.id);
      await releaseLock();
      return 'resumed';
    });
    await recovery.settled();
    await recovery.stop();
    return { buildId: build.id, resumed, status: (await findBuild(database.db, build.id))?.status };
  }

  it('records the collected exit status in the journal and hands the build on', async () => {
    const { buildId, resumed, status } = await recoverTask(
      { id: '1', do: [{ id: '2', task: { name: 't', config: { run: { path: 'true' } } } }] },
      (journal) => journal.starting('2', { out: 'vol-out' }),
    );
    expect(resumed).toEqual([buildId]);
    expect(status).toBe('started'); // the tracker (here: the test's resumer) ends it
    expect((await DatabaseStepJournal.resume(database.db, buildId)).finished('2')).toEqual({
      succeeded: false,
      exitStatus: 3,
      artifacts: { out: 'vol-out' },
    });
  });

  it('does not go on when the step name is used twice in the plan (retry attempts): which attempt ran is not known', async () => {
    const attempt = (id: string) => ({ id, task: { name: 't', config: { run: { path: 'true' } } } });
    const { resumed, status } = await recoverTask(
      { id: '1', retry: [attempt('2'), attempt('3')] },
      async (journal) => {
        await journal.finish('2', { succeeded: false, exitStatus: 1, artifacts: {} });
        await journal.starting('3', {});
      },
    );
    expect(resumed).toEqual([]);
    expect(status).toBe('errored');
  });

  it('does not go on when the task never recorded its start (a node without the journal ran it)', async () => {
    const { resumed, status } = await recoverTask(
      { id: '1', do: [{ id: '2', task: { name: 't', config: { run: { path: 'true' } } } }] },
      async () => undefined,
    );
    expect(resumed).toEqual([]);
    expect(status).toBe('errored');
  });
});
