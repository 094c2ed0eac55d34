// The job lists (a pipeline's `GET P/jobs`, the dashboard's `GET /api/v1/jobs`) come from one lean query.
// Their bodies must stay byte for byte what presenting the full job records gives: the reference below
// builds each summary from the per-detail queries (job records, finished/next builds as full build records,
// configured inputs and outputs), as the list did before, and the answers are compared as text — key order,
// omitted fields, times and all — over jobs with every field filled in and some with none.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createJobBuild,
  createRerunBuild,
  findFinishedAndNextBuilds,
  finishBuild,
  listJobInputs,
  listJobOutputs,
  listJobs,
  listVisibleJobs,
  pauseJob,
  setJobHasNewInputs,
  sql,
  type JobRecord,
} from '@jetbridge/db';
import { presentBuildSummary, unixSeconds } from '../src/api/pipeline-json.js';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

let ts: TestServer;
let admin: string;
let alice: string;

const YAML = `
groups:
- name: all
  jobs: ["*"]
resources:
- name: repo
  type: mock
  source: {}
- name: image
  type: mock
  source: {tag: x}
jobs:
- name: build
  plan:
  - get: repo
    trigger: true
  - put: image
  - put: repo
- name: test
  plan:
  - in_parallel:
    - get: repo
      passed: [build, lint]
      trigger: true
    - get: image
      passed: [build]
- name: lint
  plan:
  - get: repo
- name: idle
  plan:
  - task: t
    config: {platform: linux, run: {path: "true"}}
`;

const INSTANCE_VARS = { branch: 'main', nested: { n: 1 } };

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
  await setPipeline(ts.url, admin, 'main', 'plain', YAML);
  await setPipeline(ts.url, admin, 'main', 'varied', YAML, INSTANCE_VARS);
  const expose = await call(pipelineUrl(ts.url, 'main', 'varied', '/expose', INSTANCE_VARS), admin, 'PUT');
  expect(expose.status).toBe(200);

  const db = ts.server.ctx.db;
  const jobs = await db.selectFrom('jobs').select(['id', 'name']).orderBy('id').execute();
  for (const job of jobs) {
    if (job.name === 'build') {
      // A finished build with times, a finished rerun of it (the one shown), and a pending next build.
      const first = await createJobBuild(db, job.id, { createdBy: 'admin', manuallyTriggered: true });
      if (!first) throw new Error('no build');
      await sql`update builds set start_time = now() - interval '90.9995 seconds' where id = ${first.id}`.execute(
        db,
      );
      await finishBuild(db, first.id, 'succeeded');
      const rerun = await createRerunBuild(db, first.id, 'admin');
      if (!rerun) throw new Error('no rerun');
      await finishBuild(db, rerun.id, 'failed');
      await createJobBuild(db, job.id, { createdBy: null, manuallyTriggered: false });
    } else if (job.name === 'test') {
      // Started, not finished: only a next build, with a start time.
      const started = await createJobBuild(db, job.id, { createdBy: null, manuallyTriggered: false });
      if (!started) throw new Error('no build');
      await sql`update builds set status = 'started', start_time = now() where id = ${started.id}`.execute(
        db,
      );
      await pauseJob(db, job.id, 'admin');
      await setJobHasNewInputs(db, job.id, true);
    } else if (job.name === 'lint') {
      const errored = await createJobBuild(db, job.id, { createdBy: null, manuallyTriggered: false });
      if (!errored) throw new Error('no build');
      await finishBuild(db, errored.id, 'errored');
    }
  }
});

afterAll(async () => {
  await ts?.destroy();
});

/** The list as the per-detail records present it (the list's code before it had its own query). */
async function referenceBody(jobs: JobRecord[]): Promise<string> {
  const db = ts.server.ctx.db;
  const ids = jobs.map((job) => job.id);
  const [builds, inputs, outputs] = await Promise.all([
    findFinishedAndNextBuilds(db, ids),
    listJobInputs(db, ids),
    listJobOutputs(db, ids),
  ]);
  const summaries = jobs.map((job) => {
    const json: Record<string, unknown> = {
      id: job.id,
      name: job.name,
      team_name: job.teamName,
      pipeline_id: job.pipelineId,
      pipeline_name: job.pipelineName,
    };
    if (job.pipelineInstanceVars !== null && Object.keys(job.pipelineInstanceVars).length > 0) {
      json['pipeline_instance_vars'] = job.pipelineInstanceVars;
    }
    if (job.paused) json['paused'] = true;
    if (job.pausedBy) json['paused_by'] = job.pausedBy;
    if (job.pausedAt) json['paused_at'] = unixSeconds(job.pausedAt);
    if (job.hasNewInputs) json['has_new_inputs'] = true;
    if (job.groups.length > 0) json['groups'] = job.groups;
    const { finished, next } = builds.get(job.id) ?? { finished: null, next: null };
    if (finished) json['finished_build'] = presentBuildSummary(finished);
    if (next) json['next_build'] = presentBuildSummary(next);
    const jobInputs = inputs.get(job.id) ?? [];
    if (jobInputs.length > 0) {
      json['inputs'] = jobInputs.map((input) => ({
        name: input.name,
        resource: input.resource,
        ...(input.passed.length > 0 ? { passed: input.passed } : {}),
        ...(input.trigger ? { trigger: true } : {}),
      }));
    }
    const jobOutputs = outputs.get(job.id) ?? [];
    if (jobOutputs.length > 0) json['outputs'] = jobOutputs.map(({ name, resource }) => ({ name, resource }));
    return json;
  });
  return JSON.stringify(summaries);
}

describe('job lists', () => {
  it('a pipeline’s jobs: the same bytes as presenting the full records', async () => {
    const db = ts.server.ctx.db;
    for (const [name, vars] of [
      ['plain', undefined],
      ['varied', INSTANCE_VARS],
    ] as const) {
      const reply = await call(pipelineUrl(ts.url, 'main', name, '/jobs', vars), admin);
      expect(reply.status).toBe(200);
      const pipelineId = (reply.json() as Array<{ pipeline_id: number }>)[0]?.pipeline_id ?? -1;
      expect(reply.text).toBe(await referenceBody(await listJobs(db, pipelineId)));
    }
    // The fixture covers what the summary can show.
    const text = (await call(pipelineUrl(ts.url, 'main', 'varied', '/jobs', INSTANCE_VARS), admin)).text;
    for (const field of ['pipeline_instance_vars', 'paused_at', 'has_new_inputs', 'start_time', 'end_time']) {
      expect(text).toContain(`"${field}"`);
    }
  });

  it('/api/v1/jobs for an admin, a user of no team (public pipelines only) and nobody', async () => {
    const db = ts.server.ctx.db;
    const all = await call(`${ts.url}/api/v1/jobs`, admin);
    expect(all.text).toBe(await referenceBody(await listVisibleJobs(db, undefined)));
    expect((all.json() as unknown[]).length).toBe(8);
    for (const token of [alice, undefined]) {
      const visible = await call(`${ts.url}/api/v1/jobs`, token);
      expect(visible.text).toBe(await referenceBody(await listVisibleJobs(db, [])));
      expect((visible.json() as unknown[]).length).toBe(4);
    }
  });
});
