import { useState } from 'react';
import { getJson, getJsonOrUndefined, mutate } from '../api/client.js';
import type { Build, BuildInput, BuildPreparation, BuildResources, Job } from '../api/types.js';
import { formatAgo, formatTime, StatusBadge, StatusIcon, statusClass } from '../components/status.js';
import { useAction, usePolling } from '../hooks.js';
import { formatDuration } from '../model/build-output.js';
import { pageQuery, parseLinkHeader, type PageBound } from '../model/pagination.js';
import { pipelinePath, instanceVarsQuery, jobBuildPath, resourcePath } from '../model/routes.js';
import { jobStatus } from '../model/pipeline-status.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { useShortcuts } from '../shortcuts.js';
import { Pager } from './builds-page.js';

const PAGE_SIZE = 25;

/** `/teams/:team/pipelines/:pipeline/jobs/:job`: build history, trigger, pause, and the next build's inputs. */
export function JobPage({ team, pipeline, job: name }: { team: string; pipeline: string; job: string }) {
  const location = useLocation();
  const vars = instanceVarsQuery(location.search);
  const withQuery = (path: string, query: string) =>
    `${path}${vars}${vars ? query.replace('?', '&') : query}`;
  const base = `/api/v1/teams/${encodeURIComponent(team)}/pipelines/${encodeURIComponent(pipeline)}/jobs/${encodeURIComponent(name)}`;
  const { canOperate, user } = useSession();
  const action = useAction();
  const [bound, setBound] = useState<PageBound | undefined>(undefined);

  const job = usePolling(() => getJsonOrUndefined<Job>(`${base}${vars}`).then((r) => r?.body), 5000, [
    base,
    vars,
    user?.sub,
  ]);
  const builds = usePolling(
    async () => {
      const res = await getJsonOrUndefined<Build[]>(withQuery(`${base}/builds`, pageQuery(bound, PAGE_SIZE)));
      return { builds: res?.body ?? [], links: parseLinkHeader(res?.headers.get('link') ?? null) };
    },
    bound === undefined ? 5000 : undefined,
    [base, vars, bound?.from, bound?.to, user?.sub],
  );
  const nextBuild = job.data?.next_build ?? undefined;
  const preparation = usePolling(
    () =>
      nextBuild?.status === 'pending'
        ? getJsonOrUndefined<BuildPreparation>(`/api/v1/builds/${nextBuild.id}/preparation`).then(
            (r) => r?.body,
          )
        : Promise.resolve(undefined),
    nextBuild?.status === 'pending' ? 5000 : undefined,
    [nextBuild?.id, nextBuild?.status],
  );
  const inputs = usePolling(
    () =>
      canOperate(team) || user
        ? getJsonOrUndefined<BuildInput[]>(`${base}/inputs${vars}`)
            .then((r) => r?.body)
            .catch(() => undefined)
        : Promise.resolve(undefined),
    15_000,
    [base, vars, user?.sub],
  );

  const trigger = () =>
    action.run(async () => {
      const created = await mutate<Build>('POST', `${base}/builds${vars}`);
      if (created) navigate(jobBuildPath(team, pipeline, name, created.name) + location.search);
    });
  const rerun = (build: Build) =>
    action.run(async () => {
      const created = await mutate<Build>('POST', `${base}/builds/${encodeURIComponent(build.name)}${vars}`);
      if (created) navigate(jobBuildPath(team, pipeline, name, created.name) + location.search);
    });
  const togglePause = () =>
    action.run(async () => {
      await mutate('PUT', `${base}/${job.data?.paused ? 'unpause' : 'pause'}${vars}`);
      job.reload();
    });

  useShortcuts(
    canOperate(team) ? [{ key: 'T', description: 'trigger a new build', run: () => void trigger() }] : [],
  );

  if (job.loading && !job.data) return <div className="page-message muted">loading…</div>;
  if (!job.data) {
    return (
      <div className="page-message" data-testid="job-missing">
        job {name} not found in <Link href={pipelinePath(team, pipeline)}>{pipeline}</Link>
      </div>
    );
  }
  const j = job.data;
  const status = j.paused ? 'paused' : jobStatus(j);

  return (
    <div className="page job-page">
      <div className={`job-header ${statusClass(status)}`}>
        <h1>{j.name}</h1>
        <StatusBadge status={status} />
        <span className="step-spacer" />
        {canOperate(team) && (
          <>
            <button onClick={() => void togglePause()} disabled={action.busy}>
              {j.paused ? 'unpause' : 'pause'}
            </button>
            <button
              onClick={() => void trigger()}
              disabled={action.busy || j.disable_manual_trigger === true}
              title="trigger a new build (T)"
            >
              trigger
            </button>
          </>
        )}
      </div>
      {action.error && <div className="error-banner">{action.error}</div>}

      {nextBuild && (
        <section className="panel">
          <h2>
            next build{' '}
            <Link href={jobBuildPath(team, pipeline, name, nextBuild.name) + location.search}>
              #{nextBuild.name}
            </Link>{' '}
            <StatusBadge status={nextBuild.status} />
          </h2>
          {preparation.data && <Preparation preparation={preparation.data} />}
        </section>
      )}

      <section className="panel">
        <h2>inputs</h2>
        {(j.inputs ?? []).length === 0 ? (
          <div className="muted">no inputs</div>
        ) : (
          <table className="kv-table">
            <tbody>
              {(j.inputs ?? []).map((input) => {
                const next = inputs.data?.find((i) => i.name === input.name);
                return (
                  <tr key={input.name}>
                    <td>
                      <Link href={resourcePath(team, pipeline, input.resource) + location.search}>
                        {input.name}
                      </Link>
                      {input.trigger ? <span className="tag">trigger</span> : null}
                    </td>
                    <td className="muted">
                      {(input.passed ?? []).length > 0 ? `passed ${input.passed?.join(', ')}` : ''}
                    </td>
                    <td className="mono">{next ? versionText(next.version) : ''}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>

      <section className="panel">
        <div className="panel-header">
          <h2>builds</h2>
          <Pager links={builds.data?.links ?? {}} onPage={setBound} />
        </div>
        {(builds.data?.builds ?? []).length === 0 && !builds.loading && (
          <div className="muted">no builds yet</div>
        )}
        {(builds.data?.builds ?? []).map((build) => (
          <JobBuildRow
            key={build.id}
            build={build}
            href={jobBuildPath(team, pipeline, name, build.name) + location.search}
            canRerun={
              canOperate(team) &&
              !j.disable_reruns &&
              build.status !== 'started' &&
              build.status !== 'pending'
            }
            onRerun={() => void rerun(build)}
            search={location.search}
            team={team}
            pipeline={pipeline}
          />
        ))}
      </section>
    </div>
  );
}

function versionText(version: Record<string, string>): string {
  return Object.entries(version)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

function JobBuildRow(props: {
  build: Build;
  href: string;
  canRerun: boolean;
  onRerun: () => void;
  search: string;
  team: string;
  pipeline: string;
}) {
  const { build } = props;
  const resources = usePolling(
    () => getJson<BuildResources>(`/api/v1/builds/${build.id}/resources`).then((r) => r.body),
    undefined,
    [build.id, build.status],
  );
  const now = Date.now() / 1000;
  const end = build.end_time ?? (build.status === 'started' ? now : undefined);
  return (
    <div className={`job-build-row ${statusClass(build.status)}`}>
      <div className="job-build-summary">
        <StatusIcon status={build.status} />
        <Link href={props.href} className="build-link">
          #{build.name}
        </Link>
        <span className="muted" title={formatTime(build.start_time)}>
          {formatAgo(build.start_time, now)}
        </span>
        <span className="muted">
          {build.start_time !== undefined && end !== undefined ? formatDuration(end - build.start_time) : ''}
        </span>
        <span className="step-spacer" />
        {props.canRerun && (
          <button className="small-button" onClick={props.onRerun}>
            rerun
          </button>
        )}
      </div>
      {resources.data && (resources.data.inputs.length > 0 || resources.data.outputs.length > 0) && (
        <div className="job-build-resources">
          {resources.data.inputs.map((input) => (
            <div key={`in-${input.name}`} className="resource-version">
              <span className="arrow">↓</span>
              <Link href={resourcePath(props.team, props.pipeline, input.name) + props.search}>
                {input.name}
              </Link>
              <span className="mono">{versionText(input.version)}</span>
            </div>
          ))}
          {resources.data.outputs.map((output) => (
            <div key={`out-${output.name}`} className="resource-version">
              <span className="arrow">↑</span>
              <Link href={resourcePath(props.team, props.pipeline, output.name) + props.search}>
                {output.name}
              </Link>
              <span className="mono">{versionText(output.version)}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function Preparation({ preparation }: { preparation: BuildPreparation }) {
  const items: Array<[string, string]> = [
    ['pipeline not paused', preparation.paused_pipeline],
    ['job not paused', preparation.paused_job],
    ['below max running builds', preparation.max_running_builds],
    ['inputs satisfied', preparation.inputs_satisfied],
    ...Object.entries(preparation.inputs ?? {}).map(([name, value]): [string, string] => [
      `input ${name}${preparation.missing_input_reasons?.[name] ? ` — ${preparation.missing_input_reasons[name]}` : ''}`,
      value,
    ]),
  ];
  return (
    <div className="preparation">
      <div className="preparation-title">why pending</div>
      {items
        .filter(([, value]) => value !== 'unknown')
        .map(([label, value]) => (
          <div key={label} className={`preparation-item ${value}`}>
            {value === 'blocking' ? '⌛' : '✓'} {label}
          </div>
        ))}
    </div>
  );
}
