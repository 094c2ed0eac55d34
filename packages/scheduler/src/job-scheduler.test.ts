import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  archivePipeline,
  createJobBuild,
  createRerunBuild,
  findJobById,
  findNextBuildInputs,
  markBuildAborted,
  pauseJob,
  pausePipeline,
  requestScheduleForJobs,
  unpauseJob,
  unpausePipeline,
  type VersionJson,
} from '@jetbridge/db';
import { findBuildPreparation } from './build-preparation.js';
import { JobScheduler } from './job-scheduler.js';
import {
  RecordingBuildStarter,
  SchedulerTestDatabase,
  type TestPipeline,
} from './testing/scheduler-fixture.js';

/**
 * One test per scheduling rule (concourse-semantics.md §5.1, §5.3–5.5) against a real PostgreSQL: pipelines
 * saved from YAML, versions saved as checks save them, the scheduler deciding, and a starter that marks the
 * builds it is given as started (a build stays running until the test finishes it).
 */
let database: SchedulerTestDatabase;
let pipelines = 0;

beforeAll(async () => {
  database = await SchedulerTestDatabase.start();
});

afterAll(async () => {
  await database?.close();
});

const v = (ref: string): VersionJson => ({ ref });

async function setup(yaml: string, options: { paused?: boolean } = {}) {
  pipelines += 1;
  const pipeline = await database.setPipeline(`scheduling-${pipelines}`, yaml, options);
  const starter = new RecordingBuildStarter(database.db);
  const scheduler = new JobScheduler({ db: database.db, starter });
  const schedule = async (job: string) => scheduler.scheduleJob(await pipeline.jobId(job));
  return { pipeline, starter, scheduler, schedule };
}

async function trigger(pipeline: TestPipeline, job: string): Promise<number> {
  const build = await createJobBuild(database.db, await pipeline.jobId(job), {
    createdBy: 'tester',
    manuallyTriggered: true,
  });
  if (!build) throw new Error('no build');
  return build.id;
}

async function statuses(pipeline: TestPipeline, job: string): Promise<string[]> {
  return (await pipeline.builds(job)).map((build) => `${build.name}:${build.status}`);
}

const TRIGGERED = `
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo, trigger: true}]}]`;

describe('creating builds', () => {
  it('a trigger input with a new version creates a pending build named 1, 2… and starts it with that version', async () => {
    const { pipeline, starter, schedule } = await setup(TRIGGERED);
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null, startedBuildIds: [] });

    await pipeline.addVersions('repo', [v('a')]);
    const first = await schedule('unit');
    expect(first.createdBuildId).toEqual(expect.any(Number));
    expect(first.startedBuildIds).toEqual([first.createdBuildId]);
    expect(starter.started.map((s) => [s.build.name, s.inputs])).toEqual([['1', { repo: v('a') }]]);
    expect(await pipeline.buildInputs(first.createdBuildId!)).toEqual({ repo: v('a') });

    // Already used: nothing new to build.
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null, startedBuildIds: [] });
    expect((await findJobById(database.db, await pipeline.jobId('unit')))?.hasNewInputs).toBe(false);

    await pipeline.addVersions('repo', [v('b')]);
    await schedule('unit');
    expect(starter.started.map((s) => [s.build.name, s.inputs])).toEqual([
      ['1', { repo: v('a') }],
      ['2', { repo: v('b') }],
    ]);
    expect(await statuses(pipeline, 'unit')).toEqual(['1:started', '2:started']);
  });

  it('trigger: false never creates a build; has_new_inputs tells; a manual trigger gets inputs resolved at start', async () => {
    const { pipeline, starter, schedule } = await setup(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo}]}]`);
    await pipeline.addVersions('repo', [v('a'), v('b')]);
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null });
    const jobId = await pipeline.jobId('unit');
    expect(await pipeline.builds('unit')).toEqual([]);
    expect((await findJobById(database.db, jobId))?.hasNewInputs).toBe(true);
    expect((await findNextBuildInputs(database.db, jobId))?.map((i) => [i.inputName, i.version])).toEqual([
      ['repo', v('b')],
    ]);

    const manual = await trigger(pipeline, 'unit');
    await pipeline.addVersions('repo', [v('c')]);
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [manual] });
    expect(starter.started[0]).toMatchObject({
      build: { name: '1', manuallyTriggered: true },
      inputs: { repo: v('c') },
    });
    // The next pass sees c used.
    await schedule('unit');
    expect((await findJobById(database.db, jobId))?.hasNewInputs).toBe(false);
  });

  it('every: one build per version, the job scheduling itself again while versions remain', async () => {
    const { pipeline, starter, schedule } = await setup(`
resources: [{name: repo, type: git}]
jobs: [{name: each, plan: [{get: repo, version: every, trigger: true}]}]`);
    await pipeline.addVersions('repo', [v('a'), v('b'), v('c')]);
    await pipeline.finishedBuild('each', 'succeeded', { repo: ['repo', v('a')] });
    const jobId = await pipeline.jobId('each');
    await schedule('each');
    const due = await database.db
      .selectFrom('jobs')
      .select(['schedule_requested', 'last_scheduled'])
      .where('id', '=', jobId)
      .executeTakeFirstOrThrow();
    expect(due.schedule_requested > due.last_scheduled).toBe(true);
    await schedule('each');
    await schedule('each');
    expect(starter.started.map((s) => s.inputs)).toEqual([{ repo: v('b') }, { repo: v('c') }]);
  });

  it('a rerun takes its original inputs, whatever is newer', async () => {
    const { pipeline, starter, schedule } = await setup(TRIGGERED);
    await pipeline.addVersions('repo', [v('a')]);
    const first = (await schedule('unit')).createdBuildId!;
    await pipeline.setBuildStatus(first, 'failed');
    await pipeline.addVersions('repo', [v('b')]);
    await schedule('unit');
    const rerun = await createRerunBuild(database.db, first, 'tester');
    await schedule('unit');
    expect(starter.started.map((s) => [s.build.name, s.inputs])).toEqual([
      ['1', { repo: v('a') }],
      ['2', { repo: v('b') }],
      ['1.1', { repo: v('a') }],
    ]);
    expect(rerun?.name).toBe('1.1');
  });
});

describe('starting pending builds', () => {
  it('paused job: no new builds; triggered builds wait and start once unpaused', async () => {
    const { pipeline, starter, schedule } = await setup(TRIGGERED);
    const jobId = await pipeline.jobId('unit');
    await pauseJob(database.db, jobId, 'tester');
    await pipeline.addVersions('repo', [v('a')]);
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null, needsRetry: false });
    const manual = await trigger(pipeline, 'unit');
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [], needsRetry: true });
    expect(await findBuildPreparation(database.db, manual)).toMatchObject({
      pausedJob: 'blocking',
      pausedPipeline: 'not_blocking',
    });
    await unpauseJob(database.db, jobId);
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [manual], needsRetry: false });
    expect(starter.started).toHaveLength(1);
  });

  it('paused pipeline: nothing starts until it is unpaused', async () => {
    const { pipeline, starter, schedule } = await setup(TRIGGERED, { paused: true });
    await pipeline.addVersions('repo', [v('a')]);
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null });
    const manual = await trigger(pipeline, 'unit');
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [], needsRetry: true });
    expect(await findBuildPreparation(database.db, manual)).toMatchObject({ pausedPipeline: 'blocking' });
    await unpausePipeline(database.db, pipeline.id);
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [manual] });
    expect(starter.started).toHaveLength(1);
    await pausePipeline(database.db, pipeline.id, 'tester');
    await trigger(pipeline, 'unit');
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [] });
  });

  it('serial: one running build; the waiting one takes the newest versions when it starts', async () => {
    const { pipeline, starter, schedule } = await setup(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, serial: true, plan: [{get: repo, trigger: true}]}]`);
    await pipeline.addVersions('repo', [v('a')]);
    const first = (await schedule('unit')).createdBuildId!;
    await pipeline.addVersions('repo', [v('b')]);
    const second = await schedule('unit');
    expect(second).toMatchObject({ startedBuildIds: [], needsRetry: true });
    expect(await findBuildPreparation(database.db, second.createdBuildId!)).toMatchObject({
      maxRunningBuilds: 'blocking',
    });
    await pipeline.addVersions('repo', [v('c')]);
    // Still one pending build: the scheduler creates at most one.
    expect(await schedule('unit')).toMatchObject({ createdBuildId: null, needsRetry: true });
    await pipeline.setBuildStatus(first, 'succeeded');
    expect(await schedule('unit')).toMatchObject({
      startedBuildIds: [second.createdBuildId],
      needsRetry: false,
    });
    // b was skipped: the pending build adopted what was newest when it started.
    expect(starter.started.map((s) => s.inputs)).toEqual([{ repo: v('a') }, { repo: v('c') }]);
  });

  it('serial_groups: one running build across the jobs of a group, oldest pending first', async () => {
    const { pipeline, starter, schedule } = await setup(`
resources: [{name: repo, type: git}]
jobs:
- {name: deploy-a, serial_groups: [deploy], plan: [{get: repo}]}
- {name: deploy-b, serial_groups: [deploy], plan: [{get: repo}]}
- {name: other, plan: [{get: repo}]}`);
    await pipeline.addVersions('repo', [v('a')]);
    const a1 = await trigger(pipeline, 'deploy-a');
    expect(await schedule('deploy-a')).toMatchObject({ startedBuildIds: [a1] });
    const b1 = await trigger(pipeline, 'deploy-b');
    const a2 = await trigger(pipeline, 'deploy-a');
    expect(await schedule('deploy-b')).toMatchObject({ startedBuildIds: [], needsRetry: true });
    expect(await schedule('deploy-a')).toMatchObject({ startedBuildIds: [], needsRetry: true });
    const other = await trigger(pipeline, 'other');
    expect(await schedule('other')).toMatchObject({ startedBuildIds: [other] });

    await pipeline.setBuildStatus(a1, 'succeeded');
    // deploy-b's build is older than deploy-a's second: deploy-a waits its turn.
    expect(await schedule('deploy-a')).toMatchObject({ startedBuildIds: [], needsRetry: true });
    expect(await schedule('deploy-b')).toMatchObject({ startedBuildIds: [b1] });
    await pipeline.setBuildStatus(b1, 'failed');
    expect(await schedule('deploy-a')).toMatchObject({ startedBuildIds: [a2] });
    expect(starter.started.map((s) => `${s.build.jobName}/${s.build.name}`)).toEqual([
      'deploy-a/1',
      'other/1',
      'deploy-b/1',
      'deploy-a/2',
    ]);
  });

  it('max_in_flight: 2 builds run at once, the third waits for one to finish', async () => {
    const { pipeline, starter, schedule } = await setup(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, max_in_flight: 2, plan: [{get: repo}]}]`);
    await pipeline.addVersions('repo', [v('a')]);
    const builds = [
      await trigger(pipeline, 'unit'),
      await trigger(pipeline, 'unit'),
      await trigger(pipeline, 'unit'),
    ];
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: builds.slice(0, 2), needsRetry: true });
    expect(await findBuildPreparation(database.db, builds[2]!)).toMatchObject({
      maxRunningBuilds: 'blocking',
    });
    await pipeline.setBuildStatus(builds[1]!, 'succeeded');
    expect(await schedule('unit')).toMatchObject({ startedBuildIds: [builds[2]], needsRetry: false });
    expect(starter.startedNames('unit')).toEqual(['1', '2', '3']);
  });

  it('a pending build that cannot start says why (BuildPreparation)', async () => {
    const { pipeline, schedule } = await setup(`
resources: [{name: repo, type: git}, {name: tools, type: git}]
jobs:
- {name: unit, plan: [{get: repo}]}
- {name: deploy, plan: [{get: repo, passed: [unit]}, {get: tools, version: {ref: v9}}]}`);
    await pipeline.addVersions('repo', [v('a')]);
    await pipeline.addVersions('tools', [v('v1')]);
    const build = await trigger(pipeline, 'deploy');
    expect(await findBuildPreparation(database.db, build)).toEqual({
      buildId: build,
      pausedPipeline: 'not_blocking',
      pausedJob: 'not_blocking',
      maxRunningBuilds: 'not_blocking',
      inputs: { repo: 'blocking', tools: 'blocking' },
      inputsSatisfied: 'blocking',
      missingInputReasons: {
        repo: 'input is not included in resolved candidates',
        tools: 'input is not included in resolved candidates',
      },
    });
    expect(await schedule('deploy')).toMatchObject({ startedBuildIds: [], needsRetry: false });
    expect(await findBuildPreparation(database.db, build)).toMatchObject({
      inputs: { repo: 'blocking', tools: 'blocking' },
      inputsSatisfied: 'blocking',
      missingInputReasons: {
        repo: 'no satisfiable builds from passed jobs found for set of inputs',
        tools: 'pinned version ref:v9 not found',
      },
    });
    expect(await findBuildPreparation(database.db, 999_999)).toBeUndefined();
  });

  it('pending builds of an archived pipeline are aborted; aborted pending builds finish', async () => {
    const { pipeline, starter, scheduler, schedule } = await setup(TRIGGERED);
    const jobId = await pipeline.jobId('unit');
    const aborted = await trigger(pipeline, 'unit');
    await markBuildAborted(database.db, aborted);
    await schedule('unit');
    expect(starter.aborted).toEqual([aborted]);
    const pending = await trigger(pipeline, 'unit');
    await archivePipeline(database.db, pipeline.id);
    await scheduler.tick();
    expect(starter.aborted).toEqual([aborted, pending]);
    const builds = await database.db
      .selectFrom('builds')
      .select(['name', 'status'])
      .where('job_id', '=', jobId)
      .orderBy('id')
      .execute();
    expect(builds).toEqual([
      { name: '1', status: 'aborted' },
      { name: '2', status: 'aborted' },
    ]);
  });
});

describe('running the scheduler', () => {
  it('the loop picks up jobs whose scheduling was requested', async () => {
    const { pipeline, starter, scheduler } = await setup(TRIGGERED);
    await pipeline.addVersions('repo', [v('a')]);
    scheduler.start();
    try {
      scheduler.kick();
      const deadline = Date.now() + 10_000;
      while (starter.started.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(starter.startedNames('unit')).toEqual(['1']);
    } finally {
      await scheduler.stop();
    }
  });

  it('a job that becomes due while its pass runs is scheduled again right after that pass, not a tick later', async () => {
    const { pipeline, starter } = await setup(TRIGGERED);
    // The first start waits for the test: meanwhile a new version arrives and a tick finds the job due.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let blocked!: () => void;
    const startBlocked = new Promise<void>((resolve) => (blocked = resolve));
    const gated = {
      startBuild: async (...args: Parameters<RecordingBuildStarter['startBuild']>) => {
        if (starter.calls.length === 0) {
          blocked();
          await released;
        }
        return starter.startBuild(...args);
      },
    };
    const scheduler = new JobScheduler({ db: database.db, starter: gated });
    const jobId = await pipeline.jobId('unit');
    await pipeline.addVersions('repo', [v('a')]);
    const firstPass = scheduler.scheduleJob(jobId);
    await startBlocked;
    await pipeline.addVersions('repo', [v('b')]);
    await requestScheduleForJobs(database.db, [jobId]);
    const tick = scheduler.tick();
    release();
    expect((await firstPass).startedBuildIds).toHaveLength(1);
    // Other tests' jobs may be due too (one database): this job's pass is the one that counts.
    const reports = (await tick).filter((r) => r.jobId === jobId);
    expect(reports.map((r) => r.startedBuildIds.length)).toEqual([1]);
    expect(starter.startedNames('unit')).toEqual(['1', '2']);
    expect(starter.started.map((s) => s.inputs['repo'])).toEqual([v('a'), v('b')]);
    await scheduler.stop();
  });

  it('stopping does not wait for the passes still queued: their jobs stay due for the next node', async () => {
    const jobs = Array.from({ length: 40 }, (_, i) => `- {name: j${i}, plan: [{get: repo, trigger: true}]}`);
    const { pipeline, starter } = await setup(`
resources: [{name: repo, type: git}]
jobs:
${jobs.join('\n')}`);
    await pipeline.addVersions('repo', [v('a')]);
    const scheduler = new JobScheduler({ db: database.db, starter, concurrency: 1 });
    const jobIds = await Promise.all(jobs.map((_, i) => pipeline.jobId(`j${i}`)));
    await requestScheduleForJobs(database.db, jobIds);
    const passes = Promise.all(jobIds.map((id) => scheduler.scheduleJob(id)));
    await scheduler.stop();
    const reports = await passes;
    // At most the pass holding the one slot ran; the others gave up at once.
    expect(reports.filter((r) => r.outcome === 'scheduled').length).toBeLessThanOrEqual(1);
    expect(starter.started.length).toBeLessThanOrEqual(1);
    const after = await Promise.all(jobIds.map((id) => findJobById(database.db, id)));
    const due = after.filter((job) => job !== undefined && job.scheduleRequested > job.lastScheduled);
    expect(due.length).toBeGreaterThanOrEqual(jobIds.length - 1);
  });

  it('two schedulers on one database create and start each build exactly once', async () => {
    const { pipeline, starter } = await setup(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo, trigger: true}]}]`);
    const otherNode = database.connectAgain();
    // A slow starter widens the window in which the other node could interfere.
    const slowStarter = new RecordingBuildStarter(otherNode.db);
    const slow = {
      startBuild: async (...args: Parameters<RecordingBuildStarter['startBuild']>) => {
        await new Promise((r) => setTimeout(r, 30));
        return slowStarter.startBuild(...args);
      },
    };
    const nodes = [
      new JobScheduler({ db: database.db, starter }),
      new JobScheduler({ db: otherNode.db, starter: slow }),
    ];
    try {
      const jobId = await pipeline.jobId('unit');
      for (const ref of ['a', 'b', 'c', 'd', 'e']) {
        await pipeline.addVersions('repo', [v(ref)]);
        const reports = await Promise.all(
          Array.from({ length: 6 }, (_, i) => nodes[i % 2]!.scheduleJob(jobId)),
        );
        expect(reports.filter((r) => r.createdBuildId !== null)).toHaveLength(1);
      }
      const builds = await pipeline.builds('unit');
      expect(builds.map((b) => b.name)).toEqual(['1', '2', '3', '4', '5']);
      // Each build was handed to a starter once, by one node.
      const calls = [...starter.calls, ...slowStarter.calls].sort((a, b) => a - b);
      expect(calls).toEqual(builds.map((b) => b.id));
    } finally {
      await otherNode.close();
    }
  });
});
