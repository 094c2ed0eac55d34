import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { buildMetrics } from './build-metrics.js';

/** The build metrics on a real prom-client registry, read back in the exposition format Prometheus scrapes. */

async function series(registry: Registry): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

describe('BuildMetrics', () => {
  it('is one set per registry (a second server in the process has its own)', () => {
    const registry = new Registry();
    expect(buildMetrics(registry)).toBe(buildMetrics(registry));
    expect(buildMetrics(new Registry())).not.toBe(buildMetrics(registry));
  });

  it('counts job and one-off builds by status, with their duration, and keeps check builds apart', async () => {
    const registry = new Registry();
    const metrics = buildMetrics(registry);
    const job = metrics.trackBuild({ kind: 'job', team: 'main', pipeline: 'p', job: 'unit' });
    const oneOff = metrics.trackBuild({ kind: 'one-off', team: 'dev' });
    const check = metrics.trackBuild({ kind: 'check', team: 'main', pipeline: 'p' });
    let values = await series(registry);
    expect(values.get('concourse_builds_started_total')).toBe(2);
    expect(values.get('concourse_builds_running')).toBe(2);
    expect(values.get('concourse_builds_check_running')).toBe(1);

    job.finished('succeeded');
    job.finished('errored'); // a second final status (force abort racing the end) is not counted
    oneOff.finished('failed');
    check.finished('errored');
    values = await series(registry);
    expect(values.get('concourse_builds_running')).toBe(0);
    expect(values.get('concourse_builds_finished_total')).toBe(2);
    expect(
      values.get('concourse_builds_finished{team="main",pipeline="p",job="unit",status="succeeded"}'),
    ).toBe(1);
    expect(values.get('concourse_builds_finished{team="dev",pipeline="",job="",status="failed"}')).toBe(1);
    expect(
      values.get(
        'concourse_builds_duration_seconds_count{team="main",pipeline="p",job="unit",status="succeeded"}',
      ),
    ).toBe(1);
    expect(values.get('concourse_builds_check_finished_total')).toBe(1);
    expect(values.get('concourse_builds_check_errored_total')).toBe(1);
    expect(values.get('concourse_builds_check_failed_total')).toBe(0);
    expect(values.get('concourse_builds_check_running')).toBe(0);
  });

  it('times steps from their initialize event to their finish event, by type and outcome', async () => {
    const registry = new Registry();
    const build = buildMetrics(registry).trackBuild({ kind: 'one-off', team: 'main' });
    const origin = (id: string) => ({ origin: { id }, time: 0 });
    build.event({ event: 'initialize-task', data: origin('a') });
    build.event({ event: 'start-task', data: origin('a') });
    await new Promise((resolve) => setTimeout(resolve, 30));
    build.event({ event: 'finish-task', data: { ...origin('a'), exit_status: 1 } });
    build.event({ event: 'initialize-get', data: origin('b') });
    build.event({ event: 'finish-get', data: { ...origin('b'), exit_status: 0 } });
    build.event({ event: 'initialize', data: origin('c') }); // load_var
    build.event({ event: 'finish', data: { ...origin('c'), succeeded: true } });
    build.event({ event: 'initialize-put', data: origin('d') }); // never finishes: the build errors
    build.event({ event: 'log', data: { ...origin('a'), payload: 'x' } });
    build.finished('errored');
    const values = await series(registry);
    expect(values.get('jetbridge_step_duration_seconds_count{type="task",status="failed"}')).toBe(1);
    expect(
      values.get('jetbridge_step_duration_seconds_sum{type="task",status="failed"}'),
    ).toBeGreaterThanOrEqual(0.025);
    expect(values.get('jetbridge_step_duration_seconds_count{type="get",status="succeeded"}')).toBe(1);
    expect(values.get('jetbridge_step_duration_seconds_count{type="other",status="succeeded"}')).toBe(1);
    expect(values.get('jetbridge_step_duration_seconds_count{type="put",status="errored"}')).toBe(1);
  });

  it('observes scheduler ticks and checker scans', async () => {
    const registry = new Registry();
    buildMetrics(registry).schedulerTickDone(0.02);
    buildMetrics(registry).checkerScanDone(0.3);
    const values = await series(registry);
    expect(values.get('jetbridge_scheduler_tick_duration_seconds_count')).toBe(1);
    expect(values.get('jetbridge_scheduler_tick_duration_seconds_bucket{le="0.025"}')).toBe(1);
    expect(values.get('jetbridge_checker_scan_duration_seconds_sum')).toBeCloseTo(0.3);
  });
});
