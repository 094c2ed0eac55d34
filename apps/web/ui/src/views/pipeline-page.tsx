import { useMemo } from 'react';
import { getJsonOrUndefined, mutate } from '../api/client.js';
import type { Job, Pipeline, Resource } from '../api/types.js';
import { statusClass } from '../components/status.js';
import { useAction, usePolling } from '../hooks.js';
import { layoutGraph, type PlacedEdge, type PlacedNode } from '../model/graph-layout.js';
import { jobsInGroups, pipelineGraph, selectedGroups } from '../model/pipeline-graph.js';
import { jobIsRunning, jobStatus } from '../model/pipeline-status.js';
import { instanceVarsQuery, jobPath, resourcePath } from '../model/routes.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';

interface PipelineData {
  pipeline: Pipeline | undefined;
  jobs: Job[];
  resources: Resource[];
}

/** `/teams/:team/pipelines/:pipeline`: the graph of jobs and resources, groups as tabs, pause/unpause. */
export default function PipelinePage({ team, pipeline: name }: { team: string; pipeline: string }) {
  const location = useLocation();
  const vars = instanceVarsQuery(location.search);
  const base = `/api/v1/teams/${encodeURIComponent(team)}/pipelines/${encodeURIComponent(name)}`;
  const { canOperate, user, loginHref } = useSession();
  const action = useAction();
  const data = usePolling<PipelineData>(
    async () => {
      const [pipeline, jobs, resources] = await Promise.all([
        getJsonOrUndefined<Pipeline>(`${base}${vars}`),
        getJsonOrUndefined<Job[]>(`${base}/jobs${vars}`),
        getJsonOrUndefined<Resource[]>(`${base}/resources${vars}`),
      ]);
      return { pipeline: pipeline?.body, jobs: jobs?.body ?? [], resources: resources?.body ?? [] };
    },
    5000,
    [base, vars, user?.sub],
  );

  const params = new URLSearchParams(location.search);
  const groupNames = params.getAll('group');
  const pipeline = data.data?.pipeline;
  const groups = pipeline ? selectedGroups(pipeline, groupNames) : [];
  const jobs = data.data?.jobs ?? [];
  const resources = data.data?.resources ?? [];
  const shownJobs = jobsInGroups(jobs, groups);
  const layout = useMemo(
    () => layoutGraph(pipelineGraph(shownJobs, resources)),
    [JSON.stringify(shownJobs), JSON.stringify(resources)],
  );

  if (data.loading && !data.data) return <div className="page-message muted">loading…</div>;
  if (!pipeline) {
    return (
      <div className="page-message" data-testid="pipeline-missing">
        pipeline {team}/{name} not found
        {user === null && (
          <>
            {' '}
            — <a href={loginHref()}>log in</a> if it is private
          </>
        )}
      </div>
    );
  }

  const selectGroup = (group: string, add: boolean) => {
    const next = new URLSearchParams(location.search);
    const current = add ? next.getAll('group') : [];
    next.delete('group');
    for (const g of current.includes(group) ? current.filter((g) => g !== group) : [...current, group])
      next.append('group', g);
    navigate(`${location.pathname}?${next.toString()}`, { replace: true });
  };
  const togglePause = () =>
    action.run(async () => {
      await mutate('PUT', `${base}/${pipeline.paused ? 'unpause' : 'pause'}${vars}`);
      data.reload();
    });

  return (
    <div className="pipeline-page">
      <div className={`pipeline-bar ${pipeline.paused ? 'status-paused' : ''}`}>
        {(pipeline.groups ?? []).length > 0 && (
          <nav className="group-tabs" aria-label="groups">
            {(pipeline.groups ?? []).map((group) => (
              <button
                key={group.name}
                className={`group-tab${groups.some((g) => g.name === group.name) ? ' selected' : ''}`}
                onClick={(e) => selectGroup(group.name, e.shiftKey)}
                title="shift-click to show several groups"
              >
                {group.name}
              </button>
            ))}
          </nav>
        )}
        <span className="pipeline-flags">
          {pipeline.archived && <span className="flag archived">archived</span>}
          {pipeline.paused && (
            <span className="flag paused">paused{pipeline.paused_by ? ` by ${pipeline.paused_by}` : ''}</span>
          )}
        </span>
        {canOperate(team) && !pipeline.archived && (
          <button onClick={() => void togglePause()} disabled={action.busy}>
            {pipeline.paused ? 'unpause' : 'pause'}
          </button>
        )}
      </div>
      {action.error && <div className="error-banner">{action.error}</div>}
      {shownJobs.length === 0 ? (
        <div className="empty-state">
          this pipeline has no jobs{groups.length > 0 ? ' in this group' : ''}
        </div>
      ) : (
        <div className="pipeline-graph" data-testid="pipeline-graph">
          <svg
            // Natural size when it fits; scaled down to the page's width when it does not (phones).
            style={{ width: '100%', maxWidth: layout.width, height: 'auto' }}
            viewBox={`0 0 ${layout.width} ${layout.height}`}
            role="img"
            aria-label={`pipeline ${name}`}
          >
            {layout.edges.map((edge) => (
              <Edge key={`${edge.from}-${edge.to}`} edge={edge} />
            ))}
            {layout.nodes.map((node) => (
              <Node key={node.id} node={node} team={team} pipeline={name} search={location.search} />
            ))}
          </svg>
        </div>
      )}
    </div>
  );
}

function Edge({ edge }: { edge: PlacedEdge }) {
  if (edge.points.length === 0) return null;
  const [first, ...rest] = edge.points;
  const d = `M${first?.x ?? 0},${first?.y ?? 0} ${rest.map((p) => `L${p.x},${p.y}`).join(' ')}`;
  return <path d={d} className={`graph-edge${edge.trigger ? '' : ' no-trigger'}`} />;
}

function Node({
  node,
  team,
  pipeline,
  search,
}: {
  node: PlacedNode;
  team: string;
  pipeline: string;
  search: string;
}) {
  const x = node.x - node.width / 2;
  const y = node.y - node.height / 2;
  if (node.kind === 'job' && node.job) {
    const job = node.job;
    const status = job.paused ? 'paused' : jobStatus(job);
    const href = jobPath(team, pipeline, job.name) + search;
    return (
      <Link href={href} className="graph-node-link" aria-label={`job ${job.name} ${status}`}>
        <g
          className={`graph-job ${statusClass(status)}${jobIsRunning(job) ? ' running' : ''}`}
          data-job={job.name}
        >
          <rect x={x} y={y} width={node.width} height={node.height} rx={2} />
          <text x={node.x} y={node.y} dominantBaseline="central" textAnchor="middle">
            {job.name}
          </text>
        </g>
      </Link>
    );
  }
  const resource = node.resource;
  const failing =
    resource?.build && (resource.build.status === 'failed' || resource.build.status === 'errored');
  const pinned = resource?.pinned_version !== undefined;
  return (
    <Link
      href={resourcePath(team, pipeline, node.name) + search}
      className="graph-node-link"
      aria-label={`resource ${node.name}`}
    >
      <g className={`graph-resource${failing ? ' failing' : ''}${pinned ? ' pinned' : ''}`}>
        <rect x={x} y={y} width={node.width} height={node.height} rx={2} />
        <text x={node.x} y={node.y} dominantBaseline="central" textAnchor="middle">
          {node.name}
        </text>
      </g>
    </Link>
  );
}
