// The step journal over `build_step_results` on a real PostgreSQL: what a build's steps record as they start
// and end is what a node resuming the build replays, a collected task's exit status finishes its started row,
// a collected resource script's response is kept on its row for its step, and a build's rows go with it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { allocateBuildId, createStartedOneOffBuild, sql } from '@jetbridge/db';
import { startTestDatabase, type TestDatabase } from '@jetbridge/db/testing';
import {
  DatabaseStepJournal,
  finishCollectedTask,
  finishedPlanIds,
  forgetStepResults,
  keepCollectedResourceRun,
} from './step-journal.js';

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await startTestDatabase();
}, 60_000);
afterAll(async () => {
  await testDb?.destroy();
});

async function newBuild(): Promise<number> {
  const db = testDb.database.db;
  const id = await allocateBuildId(db);
  await createStartedOneOffBuild(db, { id, teamName: 'main', plan: {}, createdBy: null, trackedBy: 'test' });
  return id;
}

describe('the database step journal', () => {
  it('replays what a run recorded as finished, not what was only starting', async () => {
    const db = testDb.database.db;
    const buildId = await newBuild();
    const running = DatabaseStepJournal.fresh(db, buildId);
    expect(running.finished('a')).toBeUndefined();
    await running.starting('a', { out: 'vol-a' });
    await running.finish('a', { succeeded: true, exitStatus: 0, artifacts: { out: 'vol-a' } });
    await running.finish('g', {
      succeeded: true,
      artifacts: { src: 'vol-g' },
      result: { name: 'src', version: { ref: 'abc' } },
      metadata: { name: 'src', fields: [{ name: 'commit', value: 'abc' }] },
    });
    await running.finish('p', { succeeded: false, artifacts: {} });
    await running.starting('b', { out: 'vol-b' });

    const resumed = await DatabaseStepJournal.resume(db, buildId);
    expect(resumed.replayedSteps).toBe(3);
    expect(resumed.finished('a')).toEqual({ succeeded: true, exitStatus: 0, artifacts: { out: 'vol-a' } });
    expect(resumed.finished('g')).toEqual({
      succeeded: true,
      artifacts: { src: 'vol-g' },
      result: { name: 'src', version: { ref: 'abc' } },
      metadata: { name: 'src', fields: [{ name: 'commit', value: 'abc' }] },
    });
    expect(resumed.finished('p')).toEqual({ succeeded: false, artifacts: {} });
    expect(resumed.finished('b')).toBeUndefined();
    expect([...(await finishedPlanIds(db, buildId))].sort()).toEqual(['a', 'g', 'p']);
    // A fresh run of another build sees none of it.
    expect(DatabaseStepJournal.fresh(db, await newBuild()).finished('a')).toBeUndefined();
  });

  it('finishes a collected task with the outputs it recorded as it started; a task it never saw start is refused', async () => {
    const db = testDb.database.db;
    const buildId = await newBuild();
    const journal = DatabaseStepJournal.fresh(db, buildId);
    await journal.starting('b', { out: 'vol-b' });
    expect(await finishCollectedTask(db, buildId, 'b', 3)).toBe(true);
    expect(await finishCollectedTask(db, buildId, 'never-started', 0)).toBe(false);
    const resumed = await DatabaseStepJournal.resume(db, buildId);
    expect(resumed.finished('b')).toEqual({ succeeded: false, exitStatus: 3, artifacts: { out: 'vol-b' } });
  });

  it('keeps a collected resource script for its step (with the volume it recorded as it started); a finished or unseen step is refused', async () => {
    const db = testDb.database.db;
    const buildId = await newBuild();
    const journal = DatabaseStepJournal.fresh(db, buildId);
    await journal.starting('g', { src: 'vol-g' });
    await journal.starting('p', {});
    await journal.finish('done', { succeeded: true, artifacts: {} });
    const response = '{"version":{"ref":"abc"},"metadata":[{"name":"é","value":"✓"}]}';
    expect(await keepCollectedResourceRun(db, buildId, 'g', { exitStatus: 0, stdout: response })).toBe(true);
    expect(await keepCollectedResourceRun(db, buildId, 'p', { exitStatus: 2, stdout: '' })).toBe(true);
    expect(await keepCollectedResourceRun(db, buildId, 'done', { exitStatus: 0, stdout: '{}' })).toBe(false);
    expect(
      await keepCollectedResourceRun(db, buildId, 'never-started', { exitStatus: 0, stdout: '{}' }),
    ).toBe(false);

    const resumed = await DatabaseStepJournal.resume(db, buildId);
    // Not finished: the step finishes with it when the build goes on.
    expect(resumed.finished('g')).toBeUndefined();
    expect(resumed.collected('g')).toEqual({ exitStatus: 0, stdout: response, artifacts: { src: 'vol-g' } });
    expect(resumed.collected('p')).toEqual({ exitStatus: 2, stdout: '', artifacts: {} });
    expect(resumed.collected('done')).toBeUndefined();
    expect(resumed.collectedSteps).toBe(2);
    expect([...(await finishedPlanIds(db, buildId))]).toEqual(['done']);

    // The step finishing replaces what was collected; a step starting again forgets it.
    await resumed.finish('g', { succeeded: true, artifacts: { src: 'vol-g' }, result: { ref: 'abc' } });
    await resumed.starting('p', {});
    const again = await DatabaseStepJournal.resume(db, buildId);
    expect(again.collected('g')).toBeUndefined();
    expect(again.finished('g')).toEqual({
      succeeded: true,
      artifacts: { src: 'vol-g' },
      result: { ref: 'abc' },
    });
    expect(again.collected('p')).toBeUndefined();
  });

  it('a step run again (its pod was lost) starts over; rows are forgotten on request and go with the build', async () => {
    const db = testDb.database.db;
    const buildId = await newBuild();
    const journal = DatabaseStepJournal.fresh(db, buildId);
    await journal.finish('a', { succeeded: false, exitStatus: 1, artifacts: { out: 'old' } });
    await journal.starting('a', { out: 'new' });
    expect((await DatabaseStepJournal.resume(db, buildId)).finished('a')).toBeUndefined();
    await journal.starting('b', {});
    await forgetStepResults(db, buildId);
    expect(await finishedPlanIds(db, buildId)).toEqual(new Set());
    await journal.finish('c', { succeeded: true, artifacts: {} });
    await sql`delete from builds where id = ${buildId}`.execute(db);
    const left = await sql<{ n: number }>`
      select count(*)::integer as n from build_step_results where build_id = ${buildId}`.execute(db);
    expect(left.rows[0]?.n).toBe(0);
  });
});
