import { createBuild, executePlan, readBuildEvents, statusesOf } from './execute-client.js';
import { ADMIN, loginToken } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * What a node does in a day, in miniature, so that labelled series (by status, step type, route…) exist
 * before a test reads /metrics: a succeeding and a failing `fly execute`, a pipeline job build (get + task)
 * triggered as `fly trigger-job` does, and a `fly check-resource`. Returns the final statuses it saw.
 */
export async function runMetricsWorkload(url: string): Promise<string[]> {
  const token = await loginToken(url, ADMIN);
  const finals: string[] = [];
  const waitFor = async (buildId: number): Promise<void> => {
    const { events } = await readBuildEvents(url, token, buildId);
    finals.push(statusesOf(events).at(-1) ?? 'none');
  };

  for (const script of ['echo ok', 'exit 3']) {
    const plan = executePlan({ platform: 'linux', run: { path: 'sh', args: ['-c', script] } }, [], []);
    const response = await createBuild(url, token, 'main', plan);
    if (response.status !== 201)
      throw new Error(`one-off build: ${response.status} ${await response.text()}`);
    await waitFor(((await response.json()) as { id: number }).id);
  }

  await setPipeline(
    url,
    token,
    'main',
    'metrics',
    `
resources:
- name: source
  type: mock
  check_every: never
  source: {initial_version: v1}
jobs:
- name: unit
  plan:
  - get: source
  - task: test
    config:
      platform: linux
      inputs: [{name: source}]
      run: {path: cat, args: [source/version]}
`,
  );
  const pipeline = (suffix: string) => pipelineUrl(url, 'main', 'metrics', suffix);
  if ((await call(pipeline('/unpause'), token, 'PUT')).status !== 200) throw new Error('unpause failed');
  const check = await call(pipeline('/resources/source/check'), token, 'POST', { from: null });
  if (check.status !== 201) throw new Error(`check: ${check.status} ${check.text}`);
  await waitFor(check.json<{ id: number }>().id);
  const job = await call(pipeline('/jobs/unit/builds'), token, 'POST');
  if (job.status !== 200) throw new Error(`trigger: ${job.status} ${job.text}`);
  await waitFor(job.json<{ id: number }>().id);
  return finals;
}
