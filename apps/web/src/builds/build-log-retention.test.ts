import { describe, expect, it } from '@jest/globals';
import { decideReaping, effectiveRetention, type RetainableBuild } from './build-log-retention.js';

const NOW = new Date('2026-06-10T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 24 * 3600_000);
const build = (id: number, status: string, endedDaysAgo = 0): RetainableBuild => ({
  id,
  status,
  endTime: status === 'started' || status === 'pending' ? null : daysAgo(endedDaysAgo),
});

describe('effectiveRetention', () => {
  it('reads build_log_retention, else the deprecated build_logs_to_retain as builds', () => {
    expect(
      effectiveRetention({ build_log_retention: { builds: 10, days: 7, minimum_succeeded_builds: 2 } }),
    ).toEqual({ builds: 10, days: 7, minimumSucceededBuilds: 2 });
    expect(effectiveRetention({ build_logs_to_retain: 3 })).toEqual({
      builds: 3,
      days: 0,
      minimumSucceededBuilds: 0,
    });
    // build_log_retention wins (the config validation refuses both anyway).
    expect(effectiveRetention({ build_logs_to_retain: 3, build_log_retention: { days: 2 } })).toEqual({
      builds: 0,
      days: 2,
      minimumSucceededBuilds: 0,
    });
    expect(effectiveRetention({})).toEqual({ builds: 0, days: 0, minimumSucceededBuilds: 0 });
  });

  it('fills zero fields from the defaults and caps them with the maxima', () => {
    const limits = { defaultBuilds: 50, maxBuilds: 0, defaultDays: 0, maxDays: 0 };
    expect(effectiveRetention({}, limits).builds).toBe(50);
    const capped = { defaultBuilds: 0, maxBuilds: 20, defaultDays: 0, maxDays: 30 };
    expect(effectiveRetention({ build_log_retention: { builds: 100, days: 7 } }, capped)).toEqual({
      builds: 20,
      days: 7,
      minimumSucceededBuilds: 0,
    });
    expect(effectiveRetention({}, capped)).toEqual({ builds: 20, days: 30, minimumSucceededBuilds: 0 });
    // A succeeded minimum above the capped count is dropped.
    expect(
      effectiveRetention({ build_log_retention: { builds: 100, minimum_succeeded_builds: 30 } }, capped)
        .minimumSucceededBuilds,
    ).toBe(0);
  });
});

describe('decideReaping', () => {
  it('keeps the newest `builds`, and the succeeded minimum beyond them at the cost of the oldest kept', () => {
    const builds = [
      build(5, 'failed'),
      build(4, 'failed'),
      build(3, 'errored'),
      build(2, 'failed'),
      build(1, 'succeeded'),
    ];
    const decision = decideReaping(builds, { builds: 2, days: 0, minimumSucceededBuilds: 1 }, NOW);
    expect(decision.reap.sort()).toEqual([2, 3, 4]);
    expect(decision.firstLoggedBuildId).toBe(1);
  });

  it('never reaps running builds, and keeps recent ones with `days`', () => {
    const builds = [
      build(4, 'started'),
      build(3, 'succeeded', 0.5),
      build(2, 'failed', 3),
      build(1, 'succeeded', 10),
    ];
    expect(decideReaping(builds, { builds: 0, days: 2, minimumSucceededBuilds: 0 }, NOW)).toEqual({
      reap: [2, 1],
      firstLoggedBuildId: 3,
    });
    expect(decideReaping(builds, { builds: 1, days: 0, minimumSucceededBuilds: 0 }, NOW).reap).toEqual([
      2, 1,
    ]);
  });

  it('keeps everything without a policy', () => {
    expect(
      decideReaping([build(1, 'failed', 400)], { builds: 0, days: 0, minimumSucceededBuilds: 0 }, NOW),
    ).toEqual({
      reap: [],
      firstLoggedBuildId: 0,
    });
  });
});
