import { useEffect, useMemo, useState } from 'react';
import { getJsonOrUndefined, mutate } from '../api/client.js';
import {
  isRunning,
  type Build,
  type BuildEventEnvelope,
  type PublicPlan,
  type Resource,
  type ResourceVersion,
} from '../api/types.js';
import { BuildOutputView } from '../components/build-output-view.js';
import { formatAgo, formatTime, StatusBadge } from '../components/status.js';
import { useAction, usePolling } from '../hooks.js';
import { BuildOutput } from '../model/build-output.js';
import { pageQuery, parseLinkHeader, type PageBound } from '../model/pagination.js';
import { instanceVarsQuery, pipelinePath } from '../model/routes.js';
import { Link, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { Pager } from './builds-page.js';

const PAGE_SIZE = 50;

/** `/teams/:team/pipelines/:pipeline/resources/:resource`: versions, enable/disable, pin, check now. */
export function ResourcePage({
  team,
  pipeline,
  resource: name,
}: {
  team: string;
  pipeline: string;
  resource: string;
}) {
  const location = useLocation();
  const vars = instanceVarsQuery(location.search);
  const withQuery = (path: string, query: string) =>
    `${path}${vars}${vars ? query.replace('?', '&') : query}`;
  const base = `/api/v1/teams/${encodeURIComponent(team)}/pipelines/${encodeURIComponent(pipeline)}/resources/${encodeURIComponent(name)}`;
  const { canOperate, user } = useSession();
  const operator = canOperate(team);
  const action = useAction();
  const [bound, setBound] = useState<PageBound | undefined>(undefined);
  const [comment, setComment] = useState<string | undefined>(undefined);

  const resource = usePolling(
    () => getJsonOrUndefined<Resource>(`${base}${vars}`).then((r) => r?.body),
    5000,
    [base, vars, user?.sub],
  );
  const versions = usePolling(
    async () => {
      const res = await getJsonOrUndefined<ResourceVersion[]>(
        withQuery(`${base}/versions`, pageQuery(bound, PAGE_SIZE)),
      );
      return { versions: res?.body ?? [], links: parseLinkHeader(res?.headers.get('link') ?? null) };
    },
    bound === undefined ? 5000 : undefined,
    [base, vars, bound?.from, bound?.to, user?.sub],
  );

  const act = (method: 'PUT' | 'POST', path: string, body?: unknown) =>
    action.run(async () => {
      await mutate(method, `${base}${path}${vars}`, body);
      resource.reload();
      versions.reload();
    });

  if (resource.loading && !resource.data) return <div className="page-message muted">loading…</div>;
  const r = resource.data;
  if (!r) {
    return (
      <div className="page-message" data-testid="resource-missing">
        resource {name} not found in <Link href={pipelinePath(team, pipeline)}>{pipeline}</Link>
      </div>
    );
  }
  const pinned = r.pinned_version;
  const checkBuild = r.build;
  const checkFailed = checkBuild && (checkBuild.status === 'failed' || checkBuild.status === 'errored');

  return (
    <div className="page resource-page">
      <div className={`resource-header${checkFailed ? ' failing' : ''}`}>
        <h1>{r.name}</h1>
        <span className="muted">{r.type}</span>
        <span className="step-spacer" />
        <span className="muted" title={formatTime(r.last_checked)}>
          {r.last_checked ? `checked ${formatAgo(r.last_checked)}` : 'never checked'}
        </span>
        {checkBuild && <StatusBadge status={checkBuild.status} />}
        {operator && (
          <button
            onClick={() => void act('POST', '/check', { from: null })}
            disabled={action.busy}
            title="check for new versions now"
          >
            check now
          </button>
        )}
      </div>
      {action.error && <div className="error-banner">{action.error}</div>}

      {pinned && (
        <section className="panel pinned-panel">
          <h2>pinned {r.pinned_in_config ? '(in the pipeline config)' : ''}</h2>
          <div className="mono">{versionText(pinned)}</div>
          {!r.pinned_in_config && operator && (
            <div className="pin-comment">
              <input
                type="text"
                placeholder="why is it pinned?"
                value={comment ?? r.pin_comment ?? ''}
                onChange={(e) => setComment(e.target.value)}
                aria-label="pin comment"
              />
              <button
                onClick={() =>
                  void act('PUT', '/pin_comment', { pin_comment: comment ?? r.pin_comment ?? '' }).then(() =>
                    setComment(undefined),
                  )
                }
                disabled={action.busy || comment === undefined}
              >
                save comment
              </button>
              <button onClick={() => void act('PUT', '/unpin')} disabled={action.busy}>
                unpin
              </button>
            </div>
          )}
          {!operator && r.pin_comment && <div className="muted">{r.pin_comment}</div>}
        </section>
      )}

      {checkBuild && (checkFailed || isRunning(checkBuild.status)) && <CheckOutput build={checkBuild} />}

      <section className="panel">
        <div className="panel-header">
          <h2>versions</h2>
          <Pager links={versions.data?.links ?? {}} onPage={setBound} />
        </div>
        {(versions.data?.versions ?? []).length === 0 && !versions.loading && (
          <div className="muted">no versions yet</div>
        )}
        {(versions.data?.versions ?? []).map((version) => {
          const isPinned = pinned !== undefined && sameVersion(pinned, version.version);
          return (
            <div
              key={version.id}
              className={`version-row${version.enabled ? '' : ' disabled'}${isPinned ? ' pinned' : ''}`}
            >
              <div className="version-summary">
                {operator && (
                  <label
                    className="version-enabled"
                    title={version.enabled ? 'disable this version' : 'enable this version'}
                  >
                    <input
                      type="checkbox"
                      checked={version.enabled}
                      onChange={() =>
                        void act('PUT', `/versions/${version.id}/${version.enabled ? 'disable' : 'enable'}`)
                      }
                      aria-label={`${version.enabled ? 'disable' : 'enable'} version ${version.id}`}
                    />
                  </label>
                )}
                <span className="mono version-text">{versionText(version.version)}</span>
                <span className="step-spacer" />
                {operator && !r.pinned_in_config && (
                  <button
                    className="small-button"
                    onClick={() => void act('PUT', isPinned ? '/unpin' : `/versions/${version.id}/pin`)}
                    disabled={action.busy}
                  >
                    {isPinned ? 'unpin' : 'pin'}
                  </button>
                )}
              </div>
              {(version.metadata ?? []).length > 0 && (
                <table className="metadata">
                  <tbody>
                    {(version.metadata ?? []).map((field, i) => (
                      <tr key={i}>
                        <td className="metadata-key">{field.name}</td>
                        <td className="metadata-value">{field.value}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          );
        })}
      </section>
    </div>
  );
}

function versionText(version: Record<string, string>): string {
  return Object.entries(version)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

function sameVersion(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The latest check's output when it failed or is running: its error is the resource's "last check error". */
function CheckOutput({ build }: { build: Build }) {
  const output = useMemo(() => new BuildOutput(), [build.id]);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    void getJsonOrUndefined<{ plan: PublicPlan }>(`/api/v1/builds/${build.id}/plan`).then((res) => {
      if (res) {
        output.setPlan(res.body.plan);
        setVersion(output.version);
      }
    });
    const source = new EventSource(`/api/v1/builds/${build.id}/events`);
    source.addEventListener('event', (message) => {
      output.apply(JSON.parse((message as MessageEvent<string>).data) as BuildEventEnvelope);
      setVersion(output.version);
    });
    source.addEventListener('end', () => source.close());
    return () => source.close();
  }, [build.id, output]);
  return (
    <section className="panel check-output">
      <h2>
        last check <StatusBadge status={build.status} />
      </h2>
      <div className="check-output-log">
        <BuildOutputView
          output={output}
          version={version}
          running={isRunning(build.status)}
          now={Date.now() / 1000}
        />
      </div>
    </section>
  );
}
