import { lazy, Suspense, useEffect } from 'react';
import { TopBar } from './components/top-bar.js';
import { parseRoute } from './model/routes.js';
import { useLocation } from './router.js';
import { loginHref } from './session.js';
import { OneOffBuildPage, JobBuildPage } from './views/build-page.js';
import { BuildsPage } from './views/builds-page.js';
import { DashboardPage } from './views/dashboard-page.js';
import { JobPage } from './views/job-page.js';
import { ResourcePage } from './views/resource-page.js';

// The graph layout library is only needed on the pipeline page: load it with that page.
const PipelinePage = lazy(() => import('./views/pipeline-page.js'));

export function App() {
  const location = useLocation();
  const route = parseRoute(location.pathname);
  return (
    <div className="app">
      <TopBar />
      <main className="main">
        <Suspense fallback={<div className="page-message muted">loading…</div>}>
          <RouteView route={route} />
        </Suspense>
      </main>
    </div>
  );
}

function RouteView({ route }: { route: ReturnType<typeof parseRoute> }) {
  switch (route.name) {
    case 'dashboard':
      return <DashboardPage />;
    case 'builds':
      return <BuildsPage />;
    case 'build':
      return <OneOffBuildPage key={route.id} id={route.id} />;
    // Keyed by what they show: another pipeline, job or resource is a new page, never the last one's data.
    case 'pipeline':
      return (
        <PipelinePage key={`${route.team}/${route.pipeline}`} team={route.team} pipeline={route.pipeline} />
      );
    case 'job':
      return (
        <JobPage
          key={`${route.team}/${route.pipeline}/${route.job}`}
          team={route.team}
          pipeline={route.pipeline}
          job={route.job}
        />
      );
    case 'job-build':
      return <JobBuildPage key={`${route.team}/${route.pipeline}/${route.job}/${route.build}`} {...route} />;
    case 'resource':
      return (
        <ResourcePage
          key={`${route.team}/${route.pipeline}/${route.resource}`}
          team={route.team}
          pipeline={route.pipeline}
          resource={route.resource}
        />
      );
    case 'login':
      return <LoginRedirect />;
    case 'not-found':
      return <div className="page-message">nothing here: {route.path}</div>;
  }
}

/** `/login` within the app: the server's login form, coming back to where the user was. */
function LoginRedirect() {
  useEffect(() => {
    const from = new URLSearchParams(window.location.search).get('redirect_uri') ?? '/';
    window.location.replace(loginHref(from));
  }, []);
  return <div className="page-message muted">redirecting to login…</div>;
}
