// Replaying a build after a restart: a run records each task/get/put step's result in its journal; a second
// run of the same plan with that journal does not run (nor log) the finished steps again, yet the steps
// after them see their outputs, versions and metadata, and hooks decide on their recorded outcome. Real
// task processes on the local worker; the journal is a plain in-memory one (what the web keeps in its DB).
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan } from '@jetbridge/plan';
import type { StepJournal, StepRecord } from './step-journal.js';
import { addResourceType, run, shTask, startWorld, type TestWorld } from './test-fixtures.js';

class MemoryJournal implements StepJournal {
  readonly started = new Map<string, Record<string, string>>();
  readonly records = new Map<string, StepRecord>();
  constructor(private readonly replay = new Map<string, StepRecord>()) {}
  finished(planId: string): StepRecord | undefined {
    return this.replay.get(planId);
  }
  async starting(planId: string, artifacts: Record<string, string>): Promise<void> {
    this.started.set(planId, artifacts);
  }
  async finish(planId: string, record: StepRecord): Promise<void> {
    this.records.set(planId, record);
  }
}

let world: TestWorld;
let spawns: string;
beforeAll(async () => {
  world = await startWorld();
  spawns = path.join(world.dir, 'spawns');
  // A resource whose `in` counts its runs, writes a file and reports a version and metadata.
  await addResourceType(world, 'counted', {
    in: `echo get >> ${spawns}; echo fetched > "$1/file"; echo '{"version":{"v":"7"},"metadata":[{"name":"who","value":"me"}]}'`,
    out: `echo put >> ${spawns}; echo '{"version":{"v":"9"}}'`,
  });
});
afterAll(async () => {
  await world.close();
});

/** A task that appends its name to the spawn file, then runs `script`. */
const counted = (id: string, script: string, config = {}): Plan =>
  shTask(id, `echo ${id} >> ${spawns}; ${script}`, config);

const spawned = async (): Promise<string[]> =>
  (await readFile(spawns, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');

/** A → B (reads A's output) → C (reads B's output), C's outcome hooked. */
function threeSteps(bScript: string): Plan {
  return {
    id: 'hooks',
    on_failure: {
      step: {
        id: 'ok',
        on_success: {
          step: {
            id: 'seq',
            do: [
              counted('A', 'echo from-a > a/file', { outputs: [{ name: 'a' }] }),
              counted('B', `cat a/file > b/file; echo and-b >> b/file; ${bScript}`, {
                inputs: [{ name: 'a' }],
                outputs: [{ name: 'b' }],
              }),
              counted('C', 'cat b/file', { inputs: [{ name: 'b' }] }),
            ],
          },
          on_success: counted('yay', 'true'),
        },
      },
      on_failure: counted('boo', 'true'),
    },
  };
}

const tasksStarted = (trail: string[]): string[] =>
  trail.filter((e) => e.startsWith('initialize-task:')).map((e) => e.slice('initialize-task:'.length));

describe('a journaled build', () => {
  it('records every task as it starts (its outputs) and ends; a replay runs only the steps left', async () => {
    await appendFile(spawns, '');
    const first = new MemoryJournal();
    const result = await run(world, threeSteps('true'), { journal: first });
    expect(result.outcome).toBe('succeeded');
    expect(result.sink.logOf('C', 'stdout')).toBe('from-a\nand-b\n');
    expect([...first.started.keys()]).toEqual(['A', 'B', 'C', 'yay']);
    expect(Object.keys(first.started.get('A')!)).toEqual(['a']);
    expect(first.records.get('B')).toEqual({
      succeeded: true,
      exitStatus: 0,
      artifacts: first.started.get('B'),
    });

    // As if the web died while C ran: A and B are done, C and the hook run again.
    const before = (await spawned()).length;
    const replay = new Map([
      ['A', first.records.get('A')!],
      ['B', first.records.get('B')!],
    ]);
    const again = await run(world, threeSteps('true'), { journal: new MemoryJournal(replay) });
    expect(again.outcome).toBe('succeeded');
    expect((await spawned()).slice(before)).toEqual(['C', 'yay']);
    expect(tasksStarted(again.sink.trail())).toEqual(['C', 'yay']);
    expect(again.sink.logOf('C', 'stdout')).toBe('from-a\nand-b\n');
    expect(again.sink.trail().some((e) => e.endsWith(':A') || e.endsWith(':B'))).toBe(false);
  });

  it('a replayed failure fails the build and runs on_failure, not the steps after it', async () => {
    const first = new MemoryJournal();
    const result = await run(world, threeSteps('exit 3'), { journal: first });
    expect(result.outcome).toBe('failed');
    expect(first.records.get('B')).toMatchObject({ succeeded: false, exitStatus: 3 });

    const before = (await spawned()).length;
    const replay = new Map([...first.records].filter(([id]) => id === 'A' || id === 'B'));
    const again = await run(world, threeSteps('exit 3'), { journal: new MemoryJournal(replay) });
    expect(again.outcome).toBe('failed');
    expect((await spawned()).slice(before)).toEqual(['boo']);
  });

  it('a replayed get restores its volume, version (version_from) and metadata; a replayed put its version', async () => {
    const plan: Plan = {
      id: 'seq',
      do: [
        { id: 'g', get: { name: 'src', type: 'counted', source: {}, image: {}, version: { v: '7' } } },
        { id: 'p', put: { name: 'out', type: 'counted', source: {}, image: {} } },
        { id: 'g2', get: { name: 'again', type: 'counted', source: {}, image: {}, version_from: 'p' } },
        counted('T', 'cat src/file; echo "who=((.:src.who))"', { inputs: [{ name: 'src' }] }),
      ],
    };
    const first = new MemoryJournal();
    const result = await run(world, plan, { journal: first });
    expect(result.outcome).toBe('succeeded');
    expect(first.records.get('g')).toMatchObject({
      succeeded: true,
      result: { name: 'src', version: { v: '7' } },
      metadata: { name: 'src', fields: [{ name: 'who', value: 'me' }] },
    });
    expect(first.records.get('p')).toMatchObject({ succeeded: true, result: { v: '9' } });

    const before = (await spawned()).length;
    const replay = new Map([...first.records].filter(([id]) => id === 'g' || id === 'p'));
    const again = await run(world, plan, { journal: new MemoryJournal(replay) });
    expect(again.outcome).toBe('succeeded');
    expect((await spawned()).slice(before)).toEqual(['get', 'T']);
    expect(again.sink.logOf('T', 'stdout')).toBe('fetched\nwho=me\n');
  });

  it('errors the build, naming the artifact, when a replayed step’s volume is gone', async () => {
    const replay = new Map<string, StepRecord>([
      ['A', { succeeded: true, exitStatus: 0, artifacts: { a: 'no-such-volume' } }],
    ]);
    const again = await run(world, threeSteps('true'), { journal: new MemoryJournal(replay) });
    expect(again.outcome).toBe('errored');
    expect(again.sink.errorsOf('A')).toEqual([
      'cannot resume the build after the restart: the artifact a (volume no-such-volume) that step A produced before it is gone',
    ]);
  });
});
