import { useState } from 'react';
import { getJson } from '../api/client.js';
import type { Build } from '../api/types.js';
import { formatAgo, formatTime, StatusIcon, statusClass } from '../components/status.js';
import { usePolling } from '../hooks.js';
import { formatDuration } from '../model/build-output.js';
import { pageQuery, parseLinkHeader, type PageBound, type PageLinks } from '../model/pagination.js';
import { buildPath, jobPath, pipelinePath } from '../model/routes.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

const PAGE_SIZE = 50;

/** `/builds`: the builds the user may see, newest first (`GET /api/v1/builds`), paged by its Link headers. */
export function BuildsPage() {
  const { user, loginHref } = useSession();
  const [bound, setBound] = useState<PageBound | undefined>(undefined);
  const page = usePolling(
    async () => {
      const res = await getJson<Build[]>(`/api/v1/builds${pageQuery(bound, PAGE_SIZE)}`);
      return { builds: res.body, links: parseLinkHeader(res.headers.get('link')) };
    },
    bound === undefined ? 5000 : undefined,
    [bound?.from, bound?.to, user?.sub],
  );
  const builds = page.data?.builds ?? [];
  const links: PageLinks = page.data?.links ?? {};
  const now = Date.now() / 1000;

  return (
    <div className="page builds-page">
      <div className="page-header">
        <h1>builds</h1>
        <Pager links={links} onPage={setBound} />
      </div>
      {page.error && <div className="error-banner">{page.error}</div>}
      {!page.loading && builds.length === 0 && (
        <div className="empty-state">
          {user === null ? (
            <>
              no builds to show. <a href={loginHref()}>log in</a> to see your teams' builds.
            </>
          ) : (
            <>
              no builds yet. run one with <code>fly -t &lt;target&gt; execute -c task.yml</code>
            </>
          )}
        </div>
      )}
      {builds.length > 0 && (
        <table className="builds-table">
          <thead>
            <tr>
              <th aria-label="status" />
              <th>build</th>
              <th>team</th>
              <th>pipeline / job</th>
              <th className="hide-narrow">started</th>
              <th>duration</th>
              <th className="hide-narrow">by</th>
            </tr>
          </thead>
          <tbody>
            {builds.map((build) => {
              const end = build.end_time ?? (build.status === 'started' ? now : undefined);
              return (
                <tr key={build.id} className={statusClass(build.status)}>
                  <td>
                    <StatusIcon status={build.status} />
                  </td>
                  <td>
                    <Link href={buildPath(build)} className="build-link">
                      {build.job_name ? `#${build.name}` : `${build.id}`}
                    </Link>
                  </td>
                  <td>{build.team_name}</td>
                  <td>
                    {build.pipeline_name ? (
                      <>
                        <Link href={pipelinePath(build.team_name, build.pipeline_name)}>
                          {build.pipeline_name}
                        </Link>
                        {build.job_name && (
                          <>
                            {' / '}
                            <Link href={jobPath(build.team_name, build.pipeline_name, build.job_name)}>
                              {build.job_name}
                            </Link>
                          </>
                        )}
                        {build.resource_name && ` / check ${build.resource_name}`}
                      </>
                    ) : (
                      <span className="muted">one-off</span>
                    )}
                  </td>
                  <td className="hide-narrow" title={formatTime(build.start_time)}>
                    {formatAgo(build.start_time, now)}
                  </td>
                  <td>
                    {build.start_time !== undefined && end !== undefined
                      ? formatDuration(end - build.start_time)
                      : ''}
                  </td>
                  <td className="hide-narrow">{build.created_by ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Newer/older buttons from a list's Link headers. */
export function Pager({
  links,
  onPage,
}: {
  links: PageLinks;
  onPage: (bound: PageBound | undefined) => void;
}) {
  return (
    <div className="pager">
      <button disabled={!links.previous} onClick={() => onPage(links.previous)} aria-label="newer">
        ‹ newer
      </button>
      <button disabled={!links.next} onClick={() => onPage(links.next)} aria-label="older">
        older ›
      </button>
    </div>
  );
}
