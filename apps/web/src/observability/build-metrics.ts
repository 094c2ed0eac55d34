import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Build, step, scheduler and checker metrics of one web node. Names follow Concourse's Prometheus emitter where
 * it has the metric (`concourse_builds_*`), so its dashboards keep working; JetBridge's own are `jetbridge_*`.
 * One set per registry (see {@link buildMetrics}), so several servers in one process (tests) stay apart, and
 * the call sites need only the registry the AppContext already carries.
 */

/** What a build is, for its labels: job builds carry team/pipeline/job, one-offs only the team, checks none. */
export interface MeasuredBuild {
  kind: 'one-off' | 'job' | 'check';
  team: string;
  pipeline?: string;
  job?: string;
}

/** The part of a build event the step timer reads (the engine's BuildEvent has this shape). */
export interface MeasuredEvent {
  event: string;
  data?: unknown;
}

/** One build's measurement; see {@link BuildMetrics.trackBuild}. */
export interface BuildMeasurement {
  event(event: MeasuredEvent): void;
  finished(status: string): void;
}

const SECONDS_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const LOOP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class BuildMetrics {
  private readonly buildsStarted: Counter;
  private readonly buildsRunning: Gauge;
  private readonly buildsFinishedTotal: Counter;
  private readonly buildsFinished: Counter;
  private readonly buildDuration: Histogram;
  private readonly checksStarted: Counter;
  private readonly checksRunning: Gauge;
  private readonly checksFinished: Counter;
  private readonly checksErrored: Counter;
  private readonly checksFailed: Counter;
  private readonly stepDuration: Histogram;
  private readonly schedulerTick: Histogram;
  private readonly checkerScan: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.buildsStarted = new Counter({
      name: 'concourse_builds_started_total',
      help: 'Job and one-off builds this node started.',
      registers,
    });
    this.buildsRunning = new Gauge({
      name: 'concourse_builds_running',
      help: 'Job and one-off builds running on this node.',
      registers,
    });
    this.buildsFinishedTotal = new Counter({
      name: 'concourse_builds_finished_total',
      help: 'Job and one-off builds this node finished.',
      registers,
    });
    this.buildsFinished = new Counter({
      name: 'concourse_builds_finished',
      help: 'Job and one-off builds this node finished, by team, pipeline, job (empty for one-offs) and status.',
      labelNames: ['team', 'pipeline', 'job', 'status'],
      registers,
    });
    this.buildDuration = new Histogram({
      name: 'concourse_builds_duration_seconds',
      help: 'Duration of job and one-off builds, from start to final status.',
      labelNames: ['team', 'pipeline', 'job', 'status'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.checksStarted = new Counter({
      name: 'concourse_builds_check_started_total',
      help: 'Check builds this node started.',
      registers,
    });
    this.checksRunning = new Gauge({
      name: 'concourse_builds_check_running',
      help: 'Check builds running on this node.',
      registers,
    });
    this.checksFinished = new Counter({
      name: 'concourse_builds_check_finished_total',
      help: 'Check builds this node finished.',
      registers,
    });
    this.checksErrored = new Counter({
      name: 'concourse_builds_check_errored_total',
      help: 'Check builds that errored (bad config, missing vars, the check could not run).',
      registers,
    });
    this.checksFailed = new Counter({
      name: 'concourse_builds_check_failed_total',
      help: 'Check builds whose check script failed.',
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'jetbridge_step_duration_seconds',
      help: 'Duration of build steps (initialize to finish), by step type and outcome.',
      labelNames: ['type', 'status'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.schedulerTick = new Histogram({
      name: 'jetbridge_scheduler_tick_duration_seconds',
      help: 'Duration of one job scheduler pass over the due jobs.',
      buckets: LOOP_BUCKETS,
      registers,
    });
    this.checkerScan = new Histogram({
      name: 'jetbridge_checker_scan_duration_seconds',
      help: 'Duration of one checker scan for resources due for a check (the checks themselves run after).',
      buckets: LOOP_BUCKETS,
      registers,
    });
  }

  /**
   * A build began running here. Feed the returned measurement every event the engine emits (`finish-*` events
   * observe the time since their step's `initialize*`) and call `finished` once with the final status.
   */
  trackBuild(build: MeasuredBuild): BuildMeasurement {
    const began = performance.now();
    const check = build.kind === 'check';
    (check ? this.checksStarted : this.buildsStarted).inc();
    (check ? this.checksRunning : this.buildsRunning).inc();
    const openSteps = new Map<string, { type: string; began: number }>();
    let done = false;
    return {
      event: ({ event, data }) => {
        const origin = originId(data);
        if (origin === undefined) return;
        const initialize = /^initialize(?:-(.+))?$/.exec(event);
        if (initialize) {
          // set_pipeline, load_var and across send a plain `initialize`: their type is not in the event.
          if (!openSteps.has(origin))
            openSteps.set(origin, { type: initialize[1] ?? 'other', began: performance.now() });
          return;
        }
        const step = /^finish(?:-.+)?$/.test(event) ? openSteps.get(origin) : undefined;
        if (!step) return;
        openSteps.delete(origin);
        this.stepDuration.observe({ type: step.type, status: stepStatus(data) }, secondsSince(step.began));
      },
      finished: (status) => {
        if (done) return;
        done = true;
        // Steps that never sent their finish event ended with the build: errored, or aborted.
        for (const step of openSteps.values()) {
          const stepOutcome = status === 'aborted' ? 'aborted' : 'errored';
          this.stepDuration.observe({ type: step.type, status: stepOutcome }, secondsSince(step.began));
        }
        openSteps.clear();
        (check ? this.checksRunning : this.buildsRunning).dec();
        if (check) {
          this.checksFinished.inc();
          if (status === 'errored') this.checksErrored.inc();
          if (status === 'failed') this.checksFailed.inc();
          return;
        }
        const labels = { team: build.team, pipeline: build.pipeline ?? '', job: build.job ?? '', status };
        this.buildsFinishedTotal.inc();
        this.buildsFinished.inc(labels);
        this.buildDuration.observe(labels, secondsSince(began));
      },
    };
  }

  schedulerTickDone(seconds: number): void {
    this.schedulerTick.observe(seconds);
  }

  checkerScanDone(seconds: number): void {
    this.checkerScan.observe(seconds);
  }
}

function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

function originId(data: unknown): string | undefined {
  const origin = (data as { origin?: { id?: unknown } } | undefined)?.origin;
  return typeof origin?.id === 'string' ? origin.id : undefined;
}

/** `finish-task/get/put` carry an exit status, `finish` (set_pipeline, load_var…) whether it succeeded. */
function stepStatus(data: unknown): string {
  const { exit_status: exitStatus, succeeded } = data as { exit_status?: unknown; succeeded?: unknown };
  if (typeof exitStatus === 'number') return exitStatus === 0 ? 'succeeded' : 'failed';
  if (typeof succeeded === 'boolean') return succeeded ? 'succeeded' : 'failed';
  return 'succeeded';
}

const perRegistry = new WeakMap<Registry, BuildMetrics>();

/** The build metrics of a registry, registered on first use. */
export function buildMetrics(registry: Registry): BuildMetrics {
  let metrics = perRegistry.get(registry);
  if (!metrics) {
    metrics = new BuildMetrics(registry);
    perRegistry.set(registry, metrics);
  }
  return metrics;
}
