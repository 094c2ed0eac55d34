import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { executePlan, readBuildEvents, statusesOf } from './execute-client.js';
import { makeInputDir, shTask, startBuild, uploadDir } from './execute-flow.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { helmBinary } from './helm-binary.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

/**
 * The chart against a `--runtime kubernetes` web node. RBAC: every call the runtime made to the Kubernetes API
 * while a build ran (the API test server's request log) is granted by the Role the chart renders. Monitoring
 * files: after a real step pod ran (an input
 * copied in, an output copied out) on the in-repo Kubernetes API test server, every Kubernetes runtime series
 * the dashboard, the alert rules and docs/monitoring.md name is on /metrics — with values that show the pod
 * started and bytes moved. (apps/web/test/docs.test.ts checks the other names on a local-runtime node.)
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const FILES = [
  'deploy/chart/files/grafana-dashboard.json',
  'deploy/chart/files/prometheus-rules.yaml',
  'docs/monitoring.md',
];
const pvc = ARTIFACT_MODES.find((m) => m.mode === 'pvc');
const skip = pvc?.skip;
const describeIf = skip === undefined ? describe : describe.skip;

/** Each series' value from the exposition text, keyed by the line's name and labels. */
function parse(text: string): { names: Set<string>; values: Map<string, number> } {
  const names = new Set<string>();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      names.add(type[1] as string);
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${type[1]}${s}`);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { names, values };
}

describeIf(`monitoring files on a --runtime kubernetes node${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  let cluster: TestCluster;
  let server: TestServer;
  let scratch: string;
  let metrics: ReturnType<typeof parse>;
  let setupRequests = 0;

  beforeAll(async () => {
    cluster = await startTestCluster('monitoring');
    // What the cluster's setup asked (the artifact claim) is not the runtime's.
    setupRequests = cluster.server.requests().length;
    server = await startTestServer({ env: cluster.env('pvc') });
    const token = await loginToken(server.url, ADMIN);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-metrics-'));
    const artifactId = await uploadDir(server.url, token, await makeInputDir(path.join(scratch, 'in')));
    const build = await startBuild(
      server.url,
      token,
      executePlan(
        shTask('cp -R in/. out/ && echo done', { inputs: [{ name: 'in' }], outputs: [{ name: 'out' }] }),
        [{ name: 'in', artifactId }],
        ['out'],
      ),
    );
    const { events } = await readBuildEvents(server.url, token, build.id);
    expect(statusesOf(events).at(-1)).toBe('succeeded');
    metrics = parse(await (await fetch(`${server.url}/metrics`)).text());
  }, 300_000);

  afterAll(async () => {
    await server?.destroy();
    await cluster?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it.each(FILES.map((f) => [f]))('%s names only Kubernetes runtime series the node exports', async (file) => {
    const text = await readFile(path.join(REPO, file), 'utf8');
    const named = [...new Set(text.match(/jetbridge_k8s_[a-z0-9_]+/g) ?? [])];
    expect(named.length).toBeGreaterThan(file.endsWith('.yaml') ? 0 : 3);
    expect(named.filter((name) => !metrics.names.has(name))).toEqual([]);
  });

  it('the series carry what the build did: one pod started, bytes through execs', async () => {
    // The exec accounting lands when the helper exec closes, which may be just after the build's last event.
    const execBytes = () =>
      [...metrics.values]
        .filter(([key]) => key.startsWith('jetbridge_k8s_exec_bytes_total{'))
        .reduce((sum, [, value]) => sum + value, 0);
    for (let i = 0; i < 50 && execBytes() === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      metrics = parse(await (await fetch(`${server.url}/metrics`)).text());
    }
    expect(execBytes()).toBeGreaterThan(0);
    expect(metrics.values.get('jetbridge_k8s_pod_start_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metrics.values.get('concourse_builds_started_total')).toBeGreaterThanOrEqual(1);
    expect(metrics.values.get('jetbridge_step_duration_seconds_count{type="task",status="succeeded"}')).toBe(
      1,
    );
  });

  it('the chart’s Role grants every call the runtime made, in the step namespace', async () => {
    const calls = new Set(
      cluster.server
        .requests()
        .slice(setupRequests)
        .filter((request) => request.path.startsWith('/api/v1/namespaces/monitoring/'))
        .map((request) => rbacCall(request.method, request.path)),
    );
    // The calls a build makes at least: the checks below see real traffic.
    for (const call of ['pods create', 'pods/exec get']) expect(calls).toContain(call);
    const granted = await renderedRoleGrants();
    expect([...calls].filter((call) => !granted.has(call)).sort()).toEqual([]);
  });
});

/** `<resource> <verb>` of a core/v1 request, as RBAC authorizes it (a WebSocket exec upgrade is a GET). */
function rbacCall(method: string, path: string): string {
  const [, , , , , resource, name, sub] = path.split('/'); // '', api, v1, namespaces, <ns>, <resource>, <name>, <sub>
  const full = sub ? `${resource}/${sub}` : (resource as string);
  if (sub) return `${full} ${method === 'POST' ? 'create' : 'get'}`;
  const verb: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  return `${full} ${verb[method] ?? (name ? 'get' : 'list')}`;
}

/** `<resource> <verb>` pairs the chart's Role grants with the default values. */
async function renderedRoleGrants(): Promise<Set<string>> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-rbac-helm-'));
  try {
    const { stdout } = await promisify(execFile)(
      await helmBinary(),
      ['template', 'jb', path.join(REPO, 'deploy/chart'), '--namespace', 'monitoring'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          HELM_CONFIG_HOME: home,
          HELM_CACHE_HOME: home,
          HELM_DATA_HOME: home,
        },
      },
    );
    const role = parseAllDocuments(stdout)
      .map(
        (doc) =>
          doc.toJS() as {
            kind?: string;
            metadata?: { name?: string };
            rules?: Array<{ resources: string[]; verbs: string[] }>;
          },
      )
      .find((object) => object?.kind === 'Role' && object.metadata?.name === 'jb-jetbridge-web');
    const grants = new Set<string>();
    for (const rule of role?.rules ?? [])
      for (const resource of rule.resources) for (const verb of rule.verbs) grants.add(`${resource} ${verb}`);
    return grants;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
