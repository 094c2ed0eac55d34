import { useMemo, useRef, useState } from 'react';
import { getJsonOrUndefined, mutate } from '../api/client.js';
import type { Job, Pipeline, Team } from '../api/types.js';
import { statusClass } from '../components/status.js';
import { useAction, usePolling } from '../hooks.js';
import { filterPipelines, parseSearch, teamPasses } from '../model/dashboard-filter.js';
import { jobColumns } from '../model/pipeline-graph.js';
import { jobIsRunning, jobStatus, pipelineStatus } from '../model/pipeline-status.js';
import { jobPath, pipelinePath } from '../model/routes.js';
import { Link, navigate, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { useShortcuts } from '../shortcuts.js';

interface DashboardData {
  pipelines: Pipeline[];
  jobs: Job[];
  teams: string[];
}

/** Everything the dashboard shows; the pipeline and job lists answer 404 until that API exists: empty. */
async function loadDashboard(): Promise<DashboardData> {
  const [pipelines, jobs, teams] = await Promise.all([
    getJsonOrUndefined<Pipeline[]>('/api/v1/pipelines'),
    getJsonOrUndefined<Job[]>('/api/v1/jobs'),
    getJsonOrUndefined<Team[]>('/api/v1/teams'),
  ]);
  return {
    pipelines: pipelines?.body ?? [],
    jobs: jobs?.body ?? [],
    teams: (teams?.body ?? []).map((t) => t.name ?? '').filter((n) => n !== ''),
  };
}

/** `/`: every pipeline the user can see, grouped by team, with a search box (Concourse's dashboard). */
export function DashboardPage() {
  const { user, loginHref, info } = useSession();
  const location = useLocation();
  const query = new URLSearchParams(location.search).get('search') ?? '';
  const [showArchived, setShowArchived] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const data = usePolling(loadDashboard, 5000, [user?.sub]);

  useShortcuts([{ key: '/', description: 'search pipelines', run: () => searchRef.current?.focus() }]);

  const setQuery = (value: string) => {
    const params = new URLSearchParams(location.search);
    if (value) params.set('search', value);
    else params.delete('search');
    const search = params.toString();
    navigate(`/${search ? `?${search}` : ''}`, { replace: true });
  };

  const terms = useMemo(() => parseSearch(query), [query]);
  const jobsByPipeline = useMemo(() => {
    const map = new Map<number, Job[]>();
    for (const job of data.data?.jobs ?? []) {
      const list = map.get(job.pipeline_id) ?? [];
      list.push(job);
      map.set(job.pipeline_id, list);
    }
    return map;
  }, [data.data]);

  const pipelines = (data.data?.pipelines ?? []).filter((p) => showArchived || !p.archived);
  const shown = filterPipelines(terms, pipelines, (p) => jobsByPipeline.get(p.id) ?? []);
  const myTeams = new Set(Object.keys(user?.teams ?? {}));
  const teamNames = new Set<string>([...(data.data?.teams ?? []), ...shown.map((p) => p.team_name)]);
  const groups = [...teamNames]
    .filter((team) => teamPasses(terms, team))
    .map((team) => ({ team, pipelines: shown.filter((p) => p.team_name === team) }))
    // With a search, teams left with no pipeline are noise.
    .filter((group) => group.pipelines.length > 0 || terms.length === 0)
    .sort(
      (a, b) => Number(myTeams.has(b.team)) - Number(myTeams.has(a.team)) || a.team.localeCompare(b.team),
    );
  const anyPipelines = (data.data?.pipelines ?? []).length > 0;

  return (
    <div className="page dashboard">
      <div className="dashboard-bar">
        <input
          ref={searchRef}
          className="search-input"
          type="search"
          placeholder="search: name team:x status:failed"
          aria-label="search pipelines"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label className="archived-toggle">
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} />{' '}
          show archived
        </label>
      </div>
      {data.error && <div className="error-banner">{data.error}</div>}
      {!data.loading && !anyPipelines && (
        <div className="welcome-card" data-testid="dashboard-empty">
          <h2>no pipelines set</h2>
          <p>
            {user === null ? (
              <>
                <a href={loginHref()}>log in</a> to see your teams' pipelines, or set one with fly:
              </>
            ) : (
              'set a pipeline with fly:'
            )}
          </p>
          <pre>
            {`fly -t ${targetName(info?.cluster_name)} login -c ${window.location.origin}\nfly -t ${targetName(info?.cluster_name)} set-pipeline -p my-pipeline -c pipeline.yml`}
          </pre>
          <p>
            one-off builds (<code>fly execute</code>) are listed under <Link href="/builds">builds</Link>.
          </p>
        </div>
      )}
      {anyPipelines && groups.length === 0 && <div className="empty-state">no pipelines match “{query}”</div>}
      {anyPipelines &&
        groups.map((group) => (
          <section key={group.team} className="team-group" aria-label={`team ${group.team}`}>
            <h2 className="team-name">
              {group.team}
              {myTeams.has(group.team) && (
                <span className="team-tag">{(user?.teams[group.team] ?? []).join(', ')}</span>
              )}
            </h2>
            {group.pipelines.length === 0 ? (
              <div className="muted team-empty">no pipelines</div>
            ) : (
              <div className="pipeline-grid">
                {group.pipelines.map((pipeline) => (
                  <PipelineCard
                    key={pipeline.id}
                    pipeline={pipeline}
                    jobs={jobsByPipeline.get(pipeline.id) ?? []}
                    onChange={data.reload}
                  />
                ))}
              </div>
            )}
          </section>
        ))}
    </div>
  );
}

function targetName(cluster: string | undefined): string {
  return (cluster || 'jetbridge').toLowerCase().replace(/[^a-z0-9-]+/g, '-');
}

function PipelineCard({
  pipeline,
  jobs,
  onChange,
}: {
  pipeline: Pipeline;
  jobs: Job[];
  onChange: () => void;
}) {
  const { canOperate } = useSession();
  const status = pipelineStatus(pipeline, jobs);
  const columns = jobColumns(jobs);
  const action = useAction();
  const base = `/api/v1/teams/${encodeURIComponent(pipeline.team_name)}/pipelines/${encodeURIComponent(pipeline.name)}`;
  const togglePause = () =>
    action.run(async () => {
      await mutate('PUT', `${base}/${pipeline.paused ? 'unpause' : 'pause'}`);
      onChange();
    });

  return (
    <article className={`pipeline-card ${pipeline.archived ? 'archived' : ''}`} data-testid="pipeline-card">
      <div className={`card-banner ${statusClass(status.status)}${status.running ? ' running' : ''}`} />
      <header className="card-header">
        <Link
          href={pipelinePath(pipeline.team_name, pipeline.name)}
          className="card-title"
          title={pipeline.name}
        >
          {pipeline.name}
        </Link>
      </header>
      <div className="card-body">
        {pipeline.archived ? (
          <div className="card-placeholder">archived</div>
        ) : jobs.length === 0 ? (
          <div className="card-placeholder">no jobs</div>
        ) : (
          <div className="job-preview">
            {columns.map((column, i) => (
              <div className="job-preview-column" key={i}>
                {column.map((job) => (
                  <Link
                    key={job.name}
                    href={jobPath(pipeline.team_name, pipeline.name, job.name)}
                    className={`job-preview-box ${job.paused ? 'status-paused' : statusClass(jobStatus(job))}${jobIsRunning(job) ? ' running' : ''}`}
                    title={`${job.name}: ${job.paused ? 'paused' : jobStatus(job)}${jobIsRunning(job) ? ' (running)' : ''}`}
                  />
                ))}
              </div>
            ))}
          </div>
        )}
      </div>
      <footer className="card-footer">
        <span className={`card-status ${statusClass(status.status)}`}>
          {status.status}
          {status.running && status.status !== 'paused' ? ' · running' : ''}
        </span>
        <span className="card-footer-right">
          {!pipeline.public && (
            <span className="muted" title="only the team can see this pipeline">
              private
            </span>
          )}
          {canOperate(pipeline.team_name) && !pipeline.archived && (
            <button
              className="icon-button"
              onClick={() => void togglePause()}
              disabled={action.busy}
              title={pipeline.paused ? 'unpause pipeline' : 'pause pipeline'}
              aria-label={pipeline.paused ? 'unpause pipeline' : 'pause pipeline'}
            >
              {pipeline.paused ? '▶' : '❚❚'}
            </button>
          )}
        </span>
      </footer>
      {action.error && <div className="card-error">{action.error}</div>}
    </article>
  );
}
