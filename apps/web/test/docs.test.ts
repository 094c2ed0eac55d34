import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { startTestServer, type TestServer } from './harness.js';
import { runMetricsWorkload } from './metrics-workload.js';

/**
 * The operator docs and monitoring files: the generated configuration reference is current, the alert rules pass
 * promtool, and the dashboard, the alert rules and the docs name only metrics a running server's /metrics has —
 * and only log messages the code writes.
 */

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RULES_FILE = path.join(REPO, 'deploy/chart/files/prometheus-rules.yaml');
const DASHBOARD_FILE = path.join(REPO, 'deploy/chart/files/grafana-dashboard.json');
const DOCS_NAMING_METRICS = [
  'docs/monitoring.md',
  'docs/troubleshooting.md',
  'docs/gke.md',
  'docs/quickstart-k3s.md',
];

/**
 * The Kubernetes runtime's series exist only on a `--runtime kubernetes` server: this local-runtime scrape leaves
 * them to apps/web/test/chart-kubernetes-runtime.test.ts, which checks them on one.
 */
const KUBERNETES_RUNTIME_PREFIX = 'jetbridge_k8s_';

/** Series Prometheus itself records for every target: allowed although no server exports them. */
const PROMETHEUS_SYNTHETIC_SERIES = new Set(['up']);

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Metric names of a PromQL expression: identifiers that are not functions, keywords, labels or numbers. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = match[1] as string;
    if (match[2] || PROMQL_WORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const rules = parseYaml(readFileSync(RULES_FILE, 'utf8')) as {
  groups: Array<{
    name: string;
    rules: Array<{ alert?: string; expr: string; labels?: Record<string, string> }>;
  }>;
};

function dashboardExpressions(): string[] {
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Metric names the dashboard's variables query (`label_values(<metric…>, label)`). */
function variableMetrics(): string[] {
  return dashboard.templating.list.flatMap((variable) => {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const match = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(query ?? '');
    return match ? [match[1] as string] : [];
  });
}

/** Metric-looking names in backticks in a doc (`http_…`, `process_…`, `nodejs_…`, `jetbridge_…`, `concourse_…`). */
function metricsNamedIn(doc: string): string[] {
  const text = readFileSync(path.join(REPO, doc), 'utf8');
  const names = new Set<string>();
  for (const match of text.matchAll(/`([^`\n]+)`/g)) {
    for (const token of (match[1] as string).split(/[\s,]+/)) {
      const name = token.replace(/\{.*$/, '');
      if (/^(http|process|nodejs|jetbridge|concourse)_[a-z0-9_]+$/.test(name)) names.add(name);
    }
  }
  return [...names];
}

describe('docs/configuration.md', () => {
  it('is what scripts/gen-config-reference.mjs generates from options.ts and values.yaml (run it when this fails)', async () => {
    const result = await run('node', [path.join(REPO, 'scripts/gen-config-reference.mjs'), '--check']).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code ?? 1, stderr: error.stderr ?? '' }),
    );
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('documents every option and every chart value', () => {
    const reference = readFileSync(path.join(REPO, 'docs/configuration.md'), 'utf8');
    for (const env of ['CONCOURSE_EXTERNAL_URL', 'JETBRIDGE_RUNTIME', 'CONCOURSE_KUBERNETES_HELPER_IMAGE']) {
      expect(reference).toContain(`\`${env}\``);
    }
    for (const key of [
      'concourse.web.externalUrl',
      'web.livenessProbe',
      'secrets.sessionSigningKey',
      'persistence.accessModes',
      'rbac.create',
    ]) {
      expect(reference).toContain(`| \`${key}\` |`);
    }
  });

  it('is linked from the README, with the other guides', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    for (const doc of [
      'docs/configuration.md',
      'docs/quickstart-k3s.md',
      'docs/gke.md',
      'docs/troubleshooting.md',
      'docs/monitoring.md',
    ]) {
      expect(readme).toContain(`(${doc})`);
    }
  });
});

describe('relative links in docs/', () => {
  it('point at files that exist', () => {
    const docsDir = path.join(REPO, 'docs');
    const broken: string[] = [];
    for (const name of readdirSync(docsDir).filter((n) => n.endsWith('.md'))) {
      const text = readFileSync(path.join(docsDir, name), 'utf8');
      for (const match of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = match[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        try {
          statSync(path.resolve(docsDir, target));
        } catch {
          broken.push(`${name} → ${target}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('alert rules', () => {
  const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (promtool) {
    it('pass promtool check rules', async () => {
      const { stdout } = await run(promtool, ['check', 'rules', RULES_FILE]);
      expect(stdout).toContain('SUCCESS');
    });
  } else {
    it.skip('promtool is not installed (Debian package prometheus; .ci/run installs it): skipped', () =>
      undefined);
  }

  it('give every alert a severity, a summary and a description', () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const alert of alerts as Array<{
      alert: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>) {
      expect({ alert: alert.alert, severity: alert.labels?.severity }).toEqual({
        alert: alert.alert,
        severity: expect.stringMatching(/^(critical|warning)$/) as unknown as string,
      });
      expect(alert.annotations?.summary).toBeTruthy();
      expect(alert.annotations?.description).toBeTruthy();
    }
  });
});

describe('grafana dashboard', () => {
  it('is a dashboard with unique panel ids, a data-source variable and queries in every panel', () => {
    expect(dashboard.uid).toBe('jetbridge-web');
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v) => v.type === 'datasource')).toBeTruthy();
    for (const panel of panels.filter((p) => p.type !== 'row'))
      expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
  });
});

describe('metric names', () => {
  let server: TestServer;
  let exported: Set<string>;
  let finals: string[];

  beforeAll(async () => {
    server = await startTestServer();
    // Labelled series appear once observed: run builds (one-off, job, check) and make the requests the
    // dashboard looks at.
    finals = await runMetricsWorkload(server.url);
    await fetch(`${server.url}/api/v1/health`);
    await fetch(`${server.url}/api/v1/info`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    exported = new Set<string>();
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)/.exec(line);
      if (type) {
        const [, name, kind] = type as unknown as [string, string, string];
        exported.add(name);
        if (kind === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
        if (kind === 'summary') for (const suffix of ['_sum', '_count']) exported.add(name + suffix);
      } else if (line && !line.startsWith('#')) {
        exported.add(line.split(/[{\s]/)[0] as string);
      }
    }
  }, 120_000);

  afterAll(async () => {
    await server?.destroy();
  });

  function missing(names: string[]): string[] {
    return [...new Set(names)]
      .filter((n) => !exported.has(n) && !PROMETHEUS_SYNTHETIC_SERIES.has(n))
      .filter((n) => !n.startsWith(KUBERNETES_RUNTIME_PREFIX))
      .sort();
  }

  it('the extraction finds the names in an expression (it is not vacuous)', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~".*/x"}[5m]))) > 2 and on (job) up == 0',
      ),
    ).toEqual(['http_request_duration_seconds_bucket', 'up']);
    expect(exported.has('http_request_duration_seconds_count')).toBe(true);
    expect(exported.has('jetbridge_db_connections')).toBe(true);
  });

  it('the workload ran real builds: two one-offs, a check and a job build', () => {
    expect(finals).toEqual(['succeeded', 'failed', 'succeeded', 'succeeded']);
    for (const name of ['concourse_builds_duration_seconds_bucket', 'jetbridge_step_duration_seconds_bucket'])
      expect(exported.has(name)).toBe(true);
  });

  it('the dashboard queries only metrics /metrics exports', () => {
    const names = [...dashboardExpressions().flatMap(metricNames), ...variableMetrics()];
    expect(names.length).toBeGreaterThan(10);
    expect(missing(names)).toEqual([]);
  });

  it('the alert rules use only metrics /metrics exports', () => {
    const names = rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    expect(names.length).toBeGreaterThan(5);
    expect(missing(names)).toEqual([]);
  });

  it.each(DOCS_NAMING_METRICS.map((d) => [d]))('%s names only metrics /metrics exports', (doc) => {
    expect(missing(metricsNamedIn(doc))).toEqual([]);
  });
});

describe('log lines quoted in the docs', () => {
  /** Every non-test TypeScript source of the server and its packages. */
  function sources(): string {
    const texts: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist') walk(full);
        else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
          texts.push(readFileSync(full, 'utf8'));
      }
    };
    walk(path.join(REPO, 'apps/web/src'));
    for (const pkg of readdirSync(path.join(REPO, 'packages'))) walk(path.join(REPO, 'packages', pkg, 'src'));
    return texts.join('\n');
  }

  it.each([['docs/troubleshooting.md'], ['docs/monitoring.md']])(
    '%s quotes only messages the code logs',
    (doc) => {
      const text = readFileSync(path.join(REPO, doc), 'utf8');
      const quoted = [...text.matchAll(/"msg":"([^"]+)"|msg = "([^"]+)"/g)].map(
        (m) => (m[1] ?? m[2]) as string,
      );
      expect(quoted.length).toBeGreaterThan(0);
      const code = sources();
      expect(quoted.filter((message) => !code.includes(`'${message}'`))).toEqual([]);
    },
  );
});
