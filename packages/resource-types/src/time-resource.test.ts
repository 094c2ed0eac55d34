// The built-in `time` resource type, run as real processes.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runScript } from './test-fixtures.js';

/** RFC 3339 in UTC, whole seconds, as Go marshals it. */
function utc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const hh = (hour: number): string => `${String(((hour % 24) + 24) % 24).padStart(2, '0')}:00`;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Versions of a check, asserting it succeeded. */
function check(request: unknown): Array<{ time: string }> {
  const result = runScript('time', 'check', request);
  expect([result.status, result.stderr]).toEqual([0, '']);
  return result.json as Array<{ time: string }>;
}

/** Whether `time` is the current time (within the test's run). */
function isNow(time: string | undefined, since: number): boolean {
  const ms = Date.parse(time ?? '');
  return ms >= since - 1000 && ms <= Date.now();
}

describe('time resource: check', () => {
  it('emits the current time when there is no version yet', () => {
    const since = Date.now();
    const versions = check({ source: { interval: '1h' } });
    expect(versions).toHaveLength(1);
    expect(isNow(versions[0]?.time, since)).toBe(true);
    expect(versions[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('keeps the given version and adds the current time only when the interval has passed', () => {
    const previous = utc(Date.now() - 10 * MINUTE);
    expect(check({ source: { interval: '1h' }, version: { time: previous } })).toEqual([{ time: previous }]);
    const since = Date.now();
    const due = check({ source: { interval: '5m' }, version: { time: previous } });
    expect(due[0]).toEqual({ time: previous });
    expect(due).toHaveLength(2);
    expect(isNow(due[1]?.time, since)).toBe(true);
  });

  it('emits nothing outside the start–stop range, unless initial_version asks for a first version', () => {
    const hour = new Date().getUTCHours();
    const outside = { start: hh(hour + 2), stop: hh(hour + 3) };
    expect(check({ source: outside })).toEqual([]);
    const previous = utc(Date.now() - 30 * HOUR);
    expect(check({ source: outside, version: { time: previous } })).toEqual([{ time: previous }]);
    const since = Date.now();
    const initial = check({ source: { ...outside, initial_version: true } });
    expect(initial).toHaveLength(1);
    expect(isNow(initial[0]?.time, since)).toBe(true);
  });

  it('inside the range without an interval, emits once per range', () => {
    const hour = new Date().getUTCHours();
    const inside = { start: hh(hour - 1), stop: hh(hour + 1) };
    const beforeRange = utc(Date.now() - 3 * HOUR);
    expect(check({ source: inside, version: { time: beforeRange } })).toHaveLength(2);
    const inRange = utc(Date.now() - MINUTE);
    expect(check({ source: inside, version: { time: inRange } })).toEqual([{ time: inRange }]);
  });

  it('only emits on the configured days', () => {
    const today = new Date().getUTCDay();
    expect(check({ source: { interval: '1m', days: [WEEKDAYS[(today + 3) % 7]] } })).toEqual([]);
    expect(check({ source: { interval: '1m', days: [WEEKDAYS[today], 'sat'] } })).toHaveLength(1);
  });

  it('writes times in the configured location, and waits for start_after', () => {
    const [kolkata] = check({ source: { interval: '1m', location: 'Asia/Kolkata' } });
    expect(kolkata?.time).toMatch(/\+05:30$/);
    const future = new Date(Date.now() + 48 * HOUR).toISOString().slice(0, 19);
    expect(check({ source: { interval: '1m', start_after: future } })).toEqual([]);
    const past = new Date(Date.now() - 48 * HOUR).toISOString().slice(0, 10);
    expect(check({ source: { interval: '1m', start_after: past } })).toHaveLength(1);
  });

  it('fails with the Go messages on a bad source', () => {
    const cases: Array<[unknown, string]> = [
      [{ source: { start: '8:00 PM' } }, "running command: must configure 'stop' if 'start' is set\n"],
      [{ source: { interval: 'soon' } }, 'parse error: time: invalid duration "soon"\n'],
      [{ source: { location: 'Mars/Olympus_Mons' } }, 'parse error: unknown time zone Mars/Olympus_Mons\n'],
      [{ source: { days: ['Funday'] } }, 'parse error: unknown weekday: Funday\n'],
      ['not json', "parse error: invalid character 'o' in literal null (expecting 'u')\n"],
    ];
    for (const [request, message] of cases) {
      const result = runScript('time', 'check', request);
      expect([result.status, result.stderr]).toEqual([1, expect.any(String)]);
      if (typeof request !== 'string') expect(result.stderr).toBe(message);
    }
  });
});

describe('time resource: in and out', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'time-in-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the request, timestamp and epoch of the version it is given', async () => {
    const request = {
      source: { interval: '90s', start: '3 PM', stop: '1504', days: ['monday'] },
      version: { time: '2024-03-04T05:06:07.5+07:00' },
    };
    const result = runScript('time', 'in', request, { args: [dir] });
    expect(result.status).toBe(0);
    expect(result.json).toEqual({ version: { time: '2024-03-04T05:06:07.5+07:00' }, metadata: null });
    expect(await readFile(path.join(dir, 'timestamp'), 'utf8')).toBe('2024-03-04 05:06:07.5 +0700 +0700');
    expect(await readFile(path.join(dir, 'epoch'), 'utf8')).toBe(
      String(Date.UTC(2024, 2, 3, 22, 6, 7) / 1000),
    );
    expect(JSON.parse(await readFile(path.join(dir, 'input'), 'utf8'))).toEqual({
      source: {
        initial_version: false,
        interval: '1m30s',
        start: '15:00',
        stop: '15:04',
        days: ['Monday'],
        location: null,
        start_after: null,
      },
      version: { time: '2024-03-04T05:06:07.5+07:00' },
    });

    const zulu = runScript(
      'time',
      'in',
      { source: {}, version: { time: '2024-01-02T03:04:05Z' } },
      { args: [dir] },
    );
    expect(zulu.status).toBe(0);
    expect(await readFile(path.join(dir, 'timestamp'), 'utf8')).toBe('2024-01-02 03:04:05 +0000 UTC');
  });

  it('needs a destination', () => {
    const result = runScript('time', 'in', { source: {} });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^usage: .*in <destination>\n$/);
  });

  it('puts the current time', () => {
    const since = Date.now();
    const result = runScript('time', 'out', { source: { location: 'America/New_York' } }, { args: [dir] });
    expect(result.status).toBe(0);
    const { version } = result.json as { version: { time: string } };
    expect(isNow(version.time, since)).toBe(true);
    expect(version.time).toMatch(/-0[45]:00$/);
  });
});
