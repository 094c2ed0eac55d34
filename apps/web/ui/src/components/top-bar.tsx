import { useEffect, useRef, useState } from 'react';
import { Link, useLocation } from '../router.js';
import { jobPath, parseRoute, pipelinePath } from '../model/routes.js';
import { useSession } from '../session.js';

/** The bar on every page: home, where you are (team / pipeline / job), builds, and the user menu. */
export function TopBar() {
  const location = useLocation();
  const route = parseRoute(location.pathname);
  const { info } = useSession();
  const crumbs: Array<{ href: string; text: string; kind: string }> = [];
  if ('team' in route && 'pipeline' in route) {
    crumbs.push({
      href: pipelinePath(route.team, route.pipeline) + location.search,
      text: route.pipeline,
      kind: 'pipeline',
    });
    if ('job' in route)
      crumbs.push({
        href: jobPath(route.team, route.pipeline, route.job) + location.search,
        text: route.job,
        kind: 'job',
      });
    if ('resource' in route)
      crumbs.push({ href: location.pathname + location.search, text: route.resource, kind: 'resource' });
  } else if (route.name === 'build') {
    crumbs.push(
      { href: '/builds', text: 'builds', kind: '' },
      { href: location.pathname, text: `#${route.id}`, kind: 'build' },
    );
  }

  return (
    <header className="top-bar">
      <Link href="/" className="logo" aria-label="JetBridge home" title="home">
        <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
          <path
            d="M6 20 L16 8 L26 20"
            fill="none"
            stroke="#11c560"
            strokeWidth="4"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
          <rect x="6" y="23" width="20" height="3" rx="1.5" fill="#fad43b" />
        </svg>
      </Link>
      <nav className="breadcrumbs" aria-label="breadcrumbs">
        {crumbs.length === 0 && <span className="crumb-home">{info?.cluster_name || 'JetBridge'}</span>}
        {crumbs.map((crumb, i) => (
          <span key={crumb.href} className="crumb">
            {i > 0 && <span className="crumb-sep">/</span>}
            {crumb.kind && <span className="crumb-kind">{crumb.kind}</span>}
            <Link href={crumb.href}>{crumb.text}</Link>
          </span>
        ))}
      </nav>
      <div className="top-bar-right">
        <Link href="/builds" className="top-link">
          builds
        </Link>
        <UserMenu />
      </div>
    </header>
  );
}

function UserMenu() {
  const { user, loginHref, logout } = useSession();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  const { pathname } = useLocation();
  useEffect(() => setOpen(false), [pathname]);
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent) => {
      if (ref.current && !ref.current.contains(event.target as Node)) setOpen(false);
    };
    const escape = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setOpen(false);
    };
    window.addEventListener('mousedown', close);
    window.addEventListener('keydown', escape);
    return () => {
      window.removeEventListener('mousedown', close);
      window.removeEventListener('keydown', escape);
    };
  }, [open]);

  if (user === undefined) return <div className="user-menu" />;
  if (user === null) {
    return (
      <a className="login-link" href={loginHref()}>
        login
      </a>
    );
  }
  const name = user.user_name || user.name || user.display_user_id || user.sub;
  const teams = Object.entries(user.teams).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div className="user-menu" ref={ref}>
      <button
        className="user-button"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        {name}
      </button>
      {open && (
        <div className="user-dropdown" role="menu">
          <div className="user-dropdown-section">
            <div className="user-dropdown-name">{name}</div>
            {user.is_admin && <div className="user-admin">admin</div>}
          </div>
          <div className="user-dropdown-section">
            <div className="user-dropdown-heading">teams</div>
            {teams.length === 0 && <div className="muted">no teams</div>}
            {teams.map(([team, roles]) => (
              <div key={team} className="user-team">
                <span>{team}</span>
                <span className="muted">{roles.join(', ')}</span>
              </div>
            ))}
          </div>
          <button
            className="logout-button"
            role="menuitem"
            onClick={() => {
              setOpen(false);
              void logout();
            }}
          >
            log out
          </button>
        </div>
      )}
    </div>
  );
}
