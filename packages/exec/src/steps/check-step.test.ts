import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CheckPlan, Plan } from '@jetbridge/plan';
import type { CheckVersions, ResourceConfigRef } from '../build-recorder.js';
import { addResourceType, run, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  await addResourceType(world, 'three', {
    check: 'cat >&2\necho >&2\necho \'[{"n":"1"},{"n":"2"},{"n":"3"}]\'',
    in: 'cat >&2\necho \'{"version":{"n":"3"}}\'',
  });
  await addResourceType(world, 'silent', { check: 'cat > /dev/null' });
  await addResourceType(world, 'numbers', { check: 'echo \'[{"n":1}]\'' });
});
afterAll(async () => {
  await world.close();
});

function check(id: string, type: string, body: Partial<CheckPlan> = {}): Plan {
  return { id, check: { name: 'res', type, source: {}, image: {}, resource: 'res', ...body } };
}

/** An RFC 3339 time `secondsAgo` before now, without fraction (as Go re-marshals it). */
function timeAgo(secondsAgo: number): string {
  return new Date((Math.floor(Date.now() / 1000) - secondsAgo) * 1000).toISOString().replace('.000Z', 'Z');
}

describe('check step', () => {
  it("saves the mock's initial version through onCheckVersions, with check events", async () => {
    const saved: CheckVersions[] = [];
    const { outcome, sink } = await run(world, check('c', 'mock', { source: { initial_version: 'first' } }), {
      onCheckVersions: (result) => void saved.push(result),
    });
    expect(outcome).toBe('succeeded');
    expect(sink.trail()).toEqual(['initialize-check:c', 'selected-worker:c', 'start:c', 'finish:c']);
    expect(sink.events[0]).toEqual({
      event: 'initialize-check',
      version: '1.0',
      data: { origin: { id: 'c' }, time: expect.any(Number), name: 'res' },
    });
    expect(sink.events.find((e) => e.event === 'start')).toEqual({
      event: 'start',
      version: '1.0',
      data: { origin: { id: 'c' }, time: expect.any(Number) },
    });
    expect(sink.events.at(-1)).toEqual({
      event: 'finish',
      version: '1.0',
      data: { origin: { id: 'c' }, time: expect.any(Number), succeeded: true },
    });
    expect(saved).toEqual([
      {
        planId: 'c',
        name: 'res',
        resourceName: 'res',
        type: 'mock',
        source: { initial_version: 'first' },
        versions: [{ version: 'first' }],
      },
    ]);
  });

  it('passes the versions on in the order check printed them, starting from the latest known version', async () => {
    const saved: CheckVersions[] = [];
    const asked: ResourceConfigRef[] = [];
    const { outcome, sink } = await run(world, check('c', 'three', { source: { uri: 'u' } }), {
      onCheckVersions: (result) => void saved.push(result),
      latestCheckedVersion: async (config) => {
        asked.push(config);
        return { n: '0' };
      },
    });
    expect(outcome).toBe('succeeded');
    expect(asked).toEqual([
      { planId: 'c', name: 'res', resourceName: 'res', type: 'three', source: { uri: 'u' } },
    ]);
    expect(JSON.parse(sink.logOf('c', 'stderr'))).toEqual({ source: { uri: 'u' }, version: { n: '0' } });
    expect(saved.map((s) => s.versions)).toEqual([[{ n: '1' }, { n: '2' }, { n: '3' }]]);

    // An explicit from_version wins; the mock returns the version it is given.
    const from = await run(world, check('c', 'mock', { from_version: { version: 'given' } }), {
      onCheckVersions: (result) => void saved.push(result),
      latestCheckedVersion: async () => ({ version: 'latest' }),
    });
    expect(from.outcome).toBe('succeeded');
    expect(saved.at(-1)?.versions).toEqual([{ version: 'given' }]);
  });

  it('lets a get fetch the latest checked version with version_from', async () => {
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        check('c', 'three'),
        { id: 'g', get: { name: 'res', type: 'three', source: {}, image: {}, version_from: 'c' } },
      ],
    });
    expect(outcome).toBe('succeeded');
    expect(JSON.parse(sink.logOf('g', 'stderr'))).toEqual({ source: {}, version: { n: '3' } });
  });

  it('treats no output as no versions, and errors on output that is not a list of versions', async () => {
    const saved: CheckVersions[] = [];
    const silent = await run(world, check('c', 'silent'), { onCheckVersions: (r) => void saved.push(r) });
    expect(silent.outcome).toBe('succeeded');
    expect(saved.map((s) => s.versions)).toEqual([[]]);

    const numbers = await run(world, check('c', 'numbers'));
    expect(numbers.outcome).toBe('errored');
    expect(numbers.sink.errorsOf('c')).toEqual([
      'run check: json: cannot unmarshal number into Go value of type string',
    ]);
  });

  it('fails when check exits non-zero', async () => {
    const { outcome, sink } = await run(world, check('c', 'mock', { source: { check_failure: 'boom' } }), {
      onCheckVersions: () => {
        throw new Error('must not be called');
      },
    });
    expect(outcome).toBe('failed');
    expect(sink.logOf('c', 'stderr')).toContain('intentionally failing to check: boom');
    expect(sink.events.at(-1)?.data).toEqual({
      origin: { id: 'c' },
      time: expect.any(Number),
      succeeded: false,
    });
  });

  it('errors when saving fails, and on undefined vars in the source', async () => {
    const failing = await run(world, check('c', 'mock'), {
      onCheckVersions: () => Promise.reject(new Error('database is gone')),
    });
    expect(failing.outcome).toBe('errored');
    expect(failing.sink.errorsOf('c')).toEqual(['save versions: database is gone']);

    const undefinedVars = await run(world, check('c', 'mock', { source: { a: '((missing))' } }));
    expect(undefinedVars.outcome).toBe('errored');
    expect(undefinedVars.sink.errorsOf('c')).toEqual([
      'resource config creds evaluation: undefined vars: missing',
    ]);
  });

  it('checks the time resource: the current time is a new version only when the interval has passed', async () => {
    const saved: CheckVersions[] = [];
    const previous = timeAgo(600);
    const notDue = await run(
      world,
      check('c', 'time', { source: { interval: '1h' }, from_version: { time: previous } }),
      {
        onCheckVersions: (r) => void saved.push(r),
      },
    );
    expect(notDue.outcome).toBe('succeeded');
    expect(saved.at(-1)?.versions).toEqual([{ time: previous }]);

    const before = Date.now();
    const due = await run(
      world,
      check('c', 'time', { source: { interval: '5m' }, from_version: { time: previous } }),
      {
        onCheckVersions: (r) => void saved.push(r),
      },
    );
    expect(due.outcome).toBe('succeeded');
    const [kept, current] = saved.at(-1)?.versions ?? [];
    expect(kept).toEqual({ time: previous });
    expect(Date.parse(current?.['time'] ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(current?.['time'] ?? '')).toBeLessThanOrEqual(Date.now());

    // Never checked: the first check emits the current time.
    const first = await run(world, check('c', 'time', { source: { interval: '1h' } }), {
      onCheckVersions: (r) => void saved.push(r),
    });
    expect(first.outcome).toBe('succeeded');
    expect(saved.at(-1)?.versions).toHaveLength(1);
  });
});
