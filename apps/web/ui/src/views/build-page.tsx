import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, errorMessage, getJson, getJsonOrUndefined, mutate } from '../api/client.js';
import {
  isRunning,
  type Build,
  type BuildEventEnvelope,
  type BuildPreparation,
  type Job,
  type PublicPlan,
} from '../api/types.js';
import { BuildOutputView, type OutputViewHandle } from '../components/build-output-view.js';
import { formatAgo, formatTime, StatusBadge, statusClass } from '../components/status.js';
import { useAction, useNow, usePolling } from '../hooks.js';
import { BuildOutput, formatDuration } from '../model/build-output.js';
import { buildPath, instanceVarsQuery, jobPath, jobBuildPath, pipelinePath } from '../model/routes.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { useShortcuts, type Shortcut } from '../shortcuts.js';

/** `/builds/:id`: one-off (and check) builds. */
export function OneOffBuildPage({ id }: { id: number }) {
  return <BuildPage buildId={id} />;
}

export interface JobContext {
  team: string;
  pipeline: string;
  job: string;
}

/** `/teams/:team/pipelines/:pipeline/jobs/:job/builds/:build`: finds the build, then shows it. */
export function JobBuildPage({ team, pipeline, job, build }: JobContext & { build: string }) {
  const { search } = useLocation();
  const vars = instanceVarsQuery(search);
  const found = usePolling(
    () =>
      getJson<Build>(
        `/api/v1/teams/${enc(team)}/pipelines/${enc(pipeline)}/jobs/${enc(job)}/builds/${enc(build)}${vars}`,
      ).then((r) => r.body),
    undefined,
    [team, pipeline, job, build, vars],
  );
  if (found.error)
    return (
      <div className="page-message">
        {found.error === 'not found' ? `build ${job} #${build} not found` : found.error}
      </div>
    );
  if (!found.data) return <div className="page-message muted">loading…</div>;
  return <BuildPage buildId={found.data.id} job={{ team, pipeline, job }} />;
}

const enc = encodeURIComponent;

/**
 * The build's events applied to `output` as they stream; `version` moves with every change, and `redraw`
 * moves it after a change made elsewhere (the plan), which the view would not see otherwise.
 */
function useBuildEvents(
  buildId: number,
  output: BuildOutput,
): { version: number; streamError: string | undefined; redraw: () => void } {
  const [version, setVersion] = useState(output.version);
  const redraw = useCallback(() => setVersion(output.version), [output]);
  const [streamError, setStreamError] = useState<string | undefined>(undefined);
  useEffect(() => {
    const source = new EventSource(`/api/v1/builds/${buildId}/events`);
    let queue: BuildEventEnvelope[] = [];
    let frame = 0;
    // Events come in bursts (a replayed log is thousands at once): apply them once per animation frame.
    const flush = () => {
      frame = 0;
      const events = queue;
      queue = [];
      for (const event of events) output.apply(event);
      setVersion(output.version);
    };
    source.addEventListener('event', (message) => {
      try {
        queue.push(JSON.parse((message as MessageEvent<string>).data) as BuildEventEnvelope);
      } catch {
        return;
      }
      if (frame === 0) frame = window.requestAnimationFrame(flush);
    });
    source.addEventListener('end', () => {
      // The build is over and every event was sent; the server keeps the stream open, so hang up.
      source.close();
      if (frame !== 0) window.cancelAnimationFrame(frame);
      flush();
    });
    source.onerror = () => {
      // EventSource reconnects by itself (resuming with Last-Event-ID) unless the server refused it.
      if (source.readyState === EventSource.CLOSED) setStreamError('the build log could not be loaded');
    };
    return () => {
      source.close();
      if (frame !== 0) window.cancelAnimationFrame(frame);
    };
  }, [buildId, output]);
  return { version, streamError, redraw };
}

function BuildPage({ buildId, job }: { buildId: number; job?: JobContext }) {
  const { search } = useLocation();
  const vars = instanceVarsQuery(search);
  const session = useSession();
  const output = useMemo(() => new BuildOutput(), [buildId]);
  const { version, streamError, redraw } = useBuildEvents(buildId, output);
  const [build, setBuild] = useState<Build | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | undefined>(undefined);
  const [planMissing, setPlanMissing] = useState(false);
  const action = useAction();
  const outputHandle = useRef<OutputViewHandle | null>(null);

  const status = output.status ?? build?.status;
  const running = status === undefined || isRunning(status);
  const now = useNow(running);

  // The build record: at first, and again once the events say it finished (for its end time).
  const terminal = status !== undefined && !isRunning(status);
  useEffect(() => {
    let cancelled = false;
    getJson<Build>(`/api/v1/builds/${buildId}`)
      .then((res) => !cancelled && setBuild(res.body))
      .catch((err: unknown) => {
        if (!cancelled)
          setLoadError(
            err instanceof ApiError && err.status === 404 ? `build ${buildId} not found` : errorMessage(err),
          );
      });
    return () => {
      cancelled = true;
    };
  }, [buildId, terminal]);

  // The plan: a pending build has none yet; try again when it starts.
  const started = status !== undefined && status !== 'pending';
  useEffect(() => {
    if (output.root) return;
    let cancelled = false;
    getJsonOrUndefined<{ plan: PublicPlan }>(`/api/v1/builds/${buildId}/plan`)
      .then((res) => {
        if (cancelled) return;
        if (res) {
          output.setPlan(res.body.plan);
          // The events may all be drawn already (a finished build replays at once): draw the tree again,
          // or its steps stay headed by plan id until the next event — for ever, once the build is over.
          redraw();
          setPlanMissing(false);
        } else setPlanMissing(true);
      })
      .catch(() => !cancelled && setPlanMissing(true));
    return () => {
      cancelled = true;
    };
  }, [buildId, output, started, redraw]);

  const jobInfo = usePolling(
    () =>
      job
        ? getJsonOrUndefined<Job>(
            `/api/v1/teams/${enc(job.team)}/pipelines/${enc(job.pipeline)}/jobs/${enc(job.job)}${vars}`,
          ).then((r) => r?.body)
        : Promise.resolve(undefined),
    10_000,
    [job?.team, job?.pipeline, job?.job, vars],
  );
  const history = usePolling(
    () =>
      job
        ? getJsonOrUndefined<Build[]>(
            `/api/v1/teams/${enc(job.team)}/pipelines/${enc(job.pipeline)}/jobs/${enc(job.job)}/builds${vars ? `${vars}&` : '?'}limit=50`,
          ).then((r) => r?.body ?? [])
        : Promise.resolve([] as Build[]),
    10_000,
    [job?.team, job?.pipeline, job?.job, vars],
  );
  const preparation = usePolling(
    () =>
      status === 'pending'
        ? getJsonOrUndefined<BuildPreparation>(`/api/v1/builds/${buildId}/preparation`).then((r) => r?.body)
        : Promise.resolve(undefined),
    status === 'pending' ? 5000 : undefined,
    [buildId, status === 'pending'],
  );

  const team = build?.team_name ?? job?.team ?? '';
  const canOperate = session.canOperate(team);
  const jobPathBase = job
    ? `/api/v1/teams/${enc(job.team)}/pipelines/${enc(job.pipeline)}/jobs/${enc(job.job)}`
    : undefined;

  const abort = () =>
    action.run(async () => {
      await mutate('PUT', `/api/v1/builds/${buildId}/abort`);
    });
  const trigger = () =>
    action.run(async () => {
      if (!jobPathBase || !job) return;
      const created = await mutate<Build>('POST', `${jobPathBase}/builds${vars}`);
      if (created) navigate(jobBuildPath(job.team, job.pipeline, job.job, created.name) + search);
    });
  const rerun = () =>
    action.run(async () => {
      if (!jobPathBase || !job || !build) return;
      const created = await mutate<Build>('POST', `${jobPathBase}/builds/${enc(build.name)}${vars}`);
      if (created) navigate(jobBuildPath(job.team, job.pipeline, job.job, created.name) + search);
    });

  const builds = history.data ?? [];
  const position = builds.findIndex((b) => b.id === buildId);
  const shortcuts: Shortcut[] = [
    { key: 'j', description: 'scroll down', run: () => outputHandle.current?.scrollBy(80) },
    { key: 'k', description: 'scroll up', run: () => outputHandle.current?.scrollBy(-80) },
    { key: 'gg', description: 'scroll to the top', run: () => outputHandle.current?.scrollToTop() },
    { key: 'G', description: 'scroll to the bottom', run: () => outputHandle.current?.scrollToBottom() },
  ];
  if (job) {
    shortcuts.push(
      {
        key: 'h',
        description: 'previous build',
        run: () => {
          const older = builds[position + 1];
          if (older) navigate(buildPath(older) + search);
        },
      },
      {
        key: 'l',
        description: 'next build',
        run: () => {
          const newer = position > 0 ? builds[position - 1] : undefined;
          if (newer) navigate(buildPath(newer) + search);
        },
      },
      { key: 'T', description: 'trigger a new build', run: () => canOperate && void trigger() },
      { key: 'R', description: 'rerun the current build', run: () => canOperate && !running && void rerun() },
    );
  }
  shortcuts.push({ key: 'A', description: 'abort build', run: () => canOperate && running && void abort() });
  useShortcuts(shortcuts);

  if (loadError) {
    return (
      <div className="page-message">
        {loadError}
        {session.user === null && (
          <>
            {' '}
            — <a href={session.loginHref()}>log in</a> to see your teams' builds
          </>
        )}
      </div>
    );
  }

  const start = build?.start_time ?? output.startTime;
  const end = build?.end_time ?? output.endTime;
  const finishedAt = end ?? (running ? now : undefined);
  const elapsed = start !== undefined && finishedAt !== undefined ? finishedAt - start : undefined;
  const title = job
    ? `${job.job} #${build?.name ?? ''}`
    : build
      ? `build #${build.name}`
      : `build ${buildId}`;
  const manualTriggerDisabled = jobInfo.data?.disable_manual_trigger === true;

  return (
    <div className="build-page">
      <div className={`build-header ${statusClass(status)}`} data-status={status}>
        <div className="build-title">
          {job && (
            <Link className="build-title-job" href={jobPath(job.team, job.pipeline, job.job) + search}>
              {job.job}
            </Link>
          )}
          <h1>{job ? `#${build?.name ?? ''}` : title}</h1>
          <StatusBadge status={status ?? 'pending'} />
        </div>
        <div className="build-times">
          {build?.team_name && !job && <span>team {build.team_name}</span>}
          {build?.pipeline_name && !job && (
            <Link href={pipelinePath(build.team_name, build.pipeline_name)}>
              pipeline {build.pipeline_name}
            </Link>
          )}
          {start !== undefined && <span title={formatTime(start)}>started {formatAgo(start, now)}</span>}
          {end !== undefined && <span title={formatTime(end)}>finished {formatAgo(end, now)}</span>}
          {elapsed !== undefined && <span>duration {formatDuration(elapsed)}</span>}
          {build?.created_by && <span>by {build.created_by}</span>}
        </div>
        <div className="build-actions">
          {job && canOperate && !running && (
            <button
              onClick={() => void rerun()}
              disabled={action.busy || jobInfo.data?.disable_reruns === true}
              title="rerun with the same inputs (R)"
            >
              rerun
            </button>
          )}
          {job && canOperate && (
            <button
              onClick={() => void trigger()}
              disabled={action.busy || manualTriggerDisabled}
              title={manualTriggerDisabled ? 'manual triggering is disabled' : 'trigger a new build (T)'}
            >
              trigger
            </button>
          )}
          {running && canOperate && (
            <button
              className="abort-button"
              onClick={() => void abort()}
              disabled={action.busy}
              title="abort the build (A)"
            >
              abort
            </button>
          )}
        </div>
      </div>
      {action.error && <div className="error-banner">{action.error}</div>}
      {streamError && <div className="error-banner">{streamError}</div>}
      {job && builds.length > 0 && (
        <nav className="build-history" aria-label="builds of this job">
          {builds.map((b) => (
            <Link
              key={b.id}
              href={buildPath(b) + search}
              className={`history-item ${statusClass(b.status)}${b.id === buildId ? ' current' : ''}`}
            >
              {b.name}
            </Link>
          ))}
        </nav>
      )}
      {status === 'pending' && <PreparationPanel preparation={preparation.data} planMissing={planMissing} />}
      <BuildOutputView
        output={output}
        version={version}
        running={running}
        now={now}
        handleRef={outputHandle}
      />
    </div>
  );
}

const PREPARATION_LABELS: Array<[keyof BuildPreparation, string]> = [
  ['paused_pipeline', 'pipeline is not paused'],
  ['paused_job', 'job is not paused'],
  ['max_running_builds', 'the job has fewer builds running than its maximum'],
  ['inputs_satisfied', 'inputs are satisfied'],
];

/** Why a pending build has not started (`GET /api/v1/builds/:id/preparation`). */
function PreparationPanel({
  preparation,
  planMissing,
}: {
  preparation: BuildPreparation | undefined;
  planMissing: boolean;
}) {
  if (!preparation) {
    return (
      <div className="preparation muted">
        {planMissing ? 'waiting for the build to be scheduled…' : 'pending…'}
      </div>
    );
  }
  return (
    <div className="preparation">
      <div className="preparation-title">waiting for</div>
      {PREPARATION_LABELS.map(([key, label]) => {
        const value = preparation[key];
        if (typeof value !== 'string' || value === 'unknown') return null;
        return (
          <div key={key} className={`preparation-item ${value}`}>
            {value === 'blocking' ? '⌛' : '✓'} {label}
          </div>
        );
      })}
      {Object.entries(preparation.inputs ?? {}).map(([name, value]) => (
        <div key={name} className={`preparation-item ${value}`}>
          {value === 'blocking' ? '⌛' : '✓'} input {name}
          {preparation.missing_input_reasons?.[name] ? ` — ${preparation.missing_input_reasons[name]}` : ''}
        </div>
      ))}
    </div>
  );
}
