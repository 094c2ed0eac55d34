// Replaying a build after a restart: a run records each task/get/put step's result in its journal; a second
// run of the same plan with that journal does not run (nor log) the finished steps again, yet the steps
// after them see their outputs, versions and metadata, and hooks decide on their recorded outcome. Real
// task processes on the local worker; the journal is a plain in-memory one (what the web keeps in its DB).
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan } from '@jetbridge/plan';
import type { CollectedRun, StepJournal, StepRecord } from './step-journal.js';
import { addResourceType, run, shTask, startWorld, type TestWorld } from './test-fixtures.js';

class MemoryJournal implements StepJournal {
  readonly started = new Map<string, Record<string, string>>();
  readonly records = new Map<string, StepRecord>();
  constructor(
    private readonly replay = new Map<string, StepRecord>(),
    private readonly collectedRuns = new Map<string, CollectedRun>(),
  ) {}
  finished(planId: string): StepRecord | undefined {
    return this.replay.get(planId);
  }
  collected(planId: string): CollectedRun | undefined {
    return this.collectedRuns.get(planId);
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
  // A resource whose `in` keeps the request it was given (to see which version it was asked for).
  await addResourceType(world, 'keeping', {
    in: `echo keep-get >> ${spawns}; cat > "$1/request"; echo '{"version":{"v":"kept"}}'`,
    out: `echo keep-put >> ${spawns}; echo '{"version":{"v":"never"}}'`,
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

  it('a get and a put whose scripts were collected after a restart finish with the collected responses, not run again', async () => {
    const plan: Plan = {
      id: 'seq',
      do: [
        { id: 'g', get: { name: 'src', type: 'counted', source: {}, image: {}, version: { v: '7' } } },
        { id: 'p', put: { name: 'out', type: 'keeping', source: {}, image: {} } },
        { id: 'g2', get: { name: 'again', type: 'keeping', source: {}, image: {}, version_from: 'p' } },
        counted('T', 'cat src/file; echo "who=((.:src.who))"; cat again/request', {
          inputs: [{ name: 'src' }, { name: 'again' }],
        }),
      ],
    };
    const first = new MemoryJournal();
    expect((await run(world, plan, { journal: first })).outcome).toBe('succeeded');
    // Every resource step journalled its start, the get with its volume.
    expect(first.started.get('g')).toEqual({ src: expect.any(String) });
    expect(first.started.get('p')).toEqual({});

    // The get's `in` and the put's `out` ended while no node watched: their responses were collected (the
    // get's volume holds what `in` wrote). Different from what the scripts print, to tell them apart.
    const before = (await spawned()).length;
    const collected = new Map<string, CollectedRun>([
      [
        'g',
        {
          exitStatus: 0,
          stdout: '{"version":{"v":"7"},"metadata":[{"name":"who","value":"collected"}]}',
          artifacts: first.started.get('g')!,
        },
      ],
      ['p', { exitStatus: 0, stdout: '{"version":{"v":"from-collected-put"}}', artifacts: {} }],
    ]);
    const journal = new MemoryJournal(new Map(), collected);
    const again = await run(world, plan, { journal });
    expect(again.outcome).toBe('succeeded');
    // Neither script ran again; the put's implicit get (version_from) and the task did.
    expect((await spawned()).slice(before)).toEqual(['keep-get', 'T']);
    expect(again.sink.logOf('T', 'stdout')).toBe(
      'fetched\nwho=collected\n{"source":{},"version":{"v":"from-collected-put"}}',
    );
    // Their start events are in the log already; their finish events come from the collected responses.
    const trail = again.sink.trail();
    expect(trail.filter((e) => /^(initialize|start)-(get|put):[gp]$/.test(e))).toEqual([]);
    const finishOf = (id: string) =>
      again.sink.events.find(
        (e) => e.event.startsWith('finish-') && (e.data['origin'] as { id: string }).id === id,
      )?.data;
    expect(finishOf('g')).toMatchObject({ exit_status: 0, version: { v: '7' } });
    expect(finishOf('p')).toMatchObject({ exit_status: 0, version: { v: 'from-collected-put' } });
    expect(journal.records.get('g')).toMatchObject({
      succeeded: true,
      artifacts: first.started.get('g'),
      metadata: { name: 'src', fields: [{ name: 'who', value: 'collected' }] },
    });
    expect(journal.records.get('p')).toMatchObject({ succeeded: true, result: { v: 'from-collected-put' } });
  });

  it('a collected get that failed fails as it would have: its finish event with the exit status, on_failure runs', async () => {
    const plan: Plan = {
      id: 'hook',
      on_failure: {
        step: { id: 'g', get: { name: 'src', type: 'counted', source: {}, image: {}, version: { v: '7' } } },
        on_failure: counted('boo', 'true'),
      },
    };
    const before = (await spawned()).length;
    const collected = new Map<string, CollectedRun>([['g', { exitStatus: 2, stdout: '', artifacts: {} }]]);
    const again = await run(world, plan, { journal: new MemoryJournal(new Map(), collected) });
    expect(again.outcome).toBe('failed');
    expect((await spawned()).slice(before)).toEqual(['boo']);
    expect(again.sink.trail()).toContain('finish-get:g');
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
