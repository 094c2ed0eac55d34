import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createJobBuild,
  findJob,
  findPipeline,
  findResource,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { JobBuildInput } from '../src/builds/job-build-starter.js';
import { logText, readBuildEvents } from './execute-client.js';
import { finishedBuild } from './execute-flow.js';
import { ADMIN, loginToken, startPausedJobBuild, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Job builds started through the BuildStarter the scheduler calls (concourse-semantics.md §2, §5.3–5.4):
 * the plan from the current job config and the chosen inputs, gets of exactly those versions, puts saved as
 * outputs and versions, the implicit get, hooks, set_pipeline, credentials. Jobs are paused so that only
 * this test starts their builds.
 */
let ts: TestServer;
let admin: string;
let db: Kysely<Database>;
let teamId: number;

const TASK = (script: string) => `
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      run: {path: sh, args: [-ec, ${JSON.stringify(script)}]}`;

const YAML = `
resources:
- name: source
  type: mock
  check_every: never
  source:
    initial_version: v1
    create_files:
      child.yml: |
        jobs:
        - name: hello
          plan:
          - task: hello
            config:
              platform: linux
              run: {path: echo, args: [START_VARgreetingEND_VAR]}
- name: artifact
  type: mock
  check_every: never
  source: {}
jobs:
- name: build
  plan:
  - get: source
  - task: compile
    config:
      inputs: [{name: source}]
      outputs: [{name: built}]
${TASK('printf "built-from-$(cat source/version)" > built/version; echo "secret is $SECRET"')}
    params: {SECRET: ((db-password))}
  - put: artifact
    params: {file: built/version}
    get_params: {}
  - task: use-implicit-get
    config:
      inputs: [{name: artifact}]
${TASK('test "$(cat artifact/version)" = "built-from-v1"')}
- name: needs-input
  plan:
  - get: source
- name: failing
  plan:
  - task: boom
    config:
${TASK('exit 1')}
  on_failure:
    put: artifact
    params: {version: failure-noticed}
    no_get: true
- name: configure
  plan:
  - get: source
  - set_pipeline: child
    file: source/child.yml
    vars: {greeting: hello-from-vars}
`;

const url = (suffix = '') => pipelineUrl(ts.url, 'main', 'jobs', suffix);

const finished = (buildId: number) => finishedBuild(ts.url, admin, buildId);

/** A pending build of a paused job (so no scheduler starts it), started here with `inputs`. */
const runJob = (jobName: string, inputs: JobBuildInput[]) => startPausedJobBuild(ts, 'jobs', jobName, inputs);

async function sourceInput(): Promise<JobBuildInput> {
  const check = await call(url('/resources/source/check'), admin, 'POST', { from: null });
  await finished(check.json<{ id: number }>().id);
  const pipeline = await findPipeline(db, teamId, 'jobs');
  const resource = await findResource(db, pipeline!.id, 'source');
  return { name: 'source', resourceId: resource!.id, version: { version: 'v1' }, firstOccurrence: true };
}

beforeAll(async () => {
  const credentials = path.join(process.env['TMPDIR'] ?? '/tmp', `jetbridge-job-creds-${process.pid}.yml`);
  await writeFile(credentials, 'main/jobs/db-password: hunter2-secret\n');
  ts = await startTestServer({ env: { JETBRIDGE_CREDENTIALS_FILE: credentials } });
  admin = await loginToken(ts.url, ADMIN);
  db = ts.server.ctx.db;
  teamId = (await db.selectFrom('teams').select('id').where('name', '=', 'main').executeTakeFirstOrThrow())
    .id;
  await setPipeline(ts.url, admin, 'main', 'jobs', YAML);
});

afterAll(async () => {
  await ts?.destroy();
});

describe('a job build', () => {
  let buildId: number;

  beforeAll(async () => {
    buildId = await runJob('build', [await sourceInput()]);
  });

  it('runs the job plan with the chosen versions and succeeds', async () => {
    expect(await finished(buildId)).toMatchObject({ status: 'succeeded', name: '1' });
  });

  it('records the inputs and the put output (GET builds/:id/resources)', async () => {
    const resources = (await call(`${ts.url}/api/v1/builds/${buildId}/resources`, admin)).json();
    expect(resources).toEqual({
      inputs: [
        {
          name: 'source',
          version: { version: 'v1' },
          pipeline_id: expect.any(Number),
          first_occurrence: true,
        },
      ],
      outputs: [{ name: 'artifact', version: { version: 'built-from-v1' } }],
    });
  });

  it('saves the put version into the resource’s history, where `passed` finds it', async () => {
    const versions = (await call(url('/resources/artifact/versions'), admin)).json<
      Array<{ version: unknown }>
    >();
    expect(versions.map((v) => v.version)).toEqual([{ version: 'built-from-v1' }]);
    const [version] = (await call(url('/resources/artifact/versions'), admin)).json<Array<{ id: number }>>();
    const outputOf = (await call(url(`/resources/artifact/versions/${version!.id}/output_of`), admin)).json<
      Array<{ id: number }>
    >();
    expect(outputOf.map((build) => build.id)).toEqual([buildId]);
  });

  it('stores a plan with the get version, the put and its implicit get', async () => {
    const plan = (await call(`${ts.url}/api/v1/builds/${buildId}/plan`, admin)).json<{ plan: unknown }>()
      .plan;
    const text = JSON.stringify(plan);
    expect(text).toContain(
      '"get":{"name":"source","type":"mock","resource":"source","version":{"version":"v1"}}',
    );
    expect(text).toContain('"put":{"name":"artifact","type":"mock","resource":"artifact"}');
    expect(text).toContain('"on_success"');
  });

  it('resolves ((vars)) from the credential manager and redacts them in the log', async () => {
    const { events } = await readBuildEvents(ts.url, admin, buildId);
    const log = logText(events);
    expect(log).toContain('secret is ((redacted))');
    expect(log).not.toContain('hunter2-secret');
  });
});

describe('builds that cannot run as planned', () => {
  it('errors a build whose get has no version, before it starts', async () => {
    const buildId = await runJob('needs-input', []);
    expect((await finished(buildId)).status).toBe('errored');
    const { events } = await readBuildEvents(ts.url, admin, buildId);
    expect(events.find((event) => event.event === 'error')?.data['message']).toBe(
      'version for input source not provided',
    );
  });

  it('runs the job’s on_failure hook when the plan fails', async () => {
    const buildId = await runJob('failing', []);
    expect((await finished(buildId)).status).toBe('failed');
    const versions = (await call(url('/resources/artifact/versions'), admin)).json<
      Array<{ version: unknown }>
    >();
    expect(versions.map((v) => v.version)).toContainEqual({ version: 'failure-noticed' });
  });

  it('aborts a pending build that will never start', async () => {
    const pipeline = await findPipeline(db, teamId, 'jobs');
    const job = await findJob(db, pipeline!.id, 'needs-input');
    const build = await createJobBuild(db, job!.id, { createdBy: null, manuallyTriggered: true });
    await ts.server.ctx.jobBuildStarter!.abortPendingBuild({ id: build!.id });
    expect((await finished(build!.id)).status).toBe('aborted');
  });
});

describe('set_pipeline', () => {
  it('sets a child pipeline with its vars, unpaused, then finds nothing to change', async () => {
    const first = await runJob('configure', [await sourceInput()]);
    expect((await finished(first)).status).toBe('succeeded');
    const child = await findPipeline(db, teamId, 'child');
    expect(child).toMatchObject({ paused: false, parentBuildId: first });
    expect(JSON.stringify(child!.config)).toContain('hello-from-vars');
    const firstLog = logText((await readBuildEvents(ts.url, admin, first)).events);
    expect(firstLog).toContain('job hello has been added:');
    expect(firstLog).toContain('setting pipeline: child');

    const second = await runJob('configure', [await sourceInput()]);
    expect((await finished(second)).status).toBe('succeeded');
    expect(logText((await readBuildEvents(ts.url, admin, second)).events)).toContain('no changes to apply.');
    expect((await findPipeline(db, teamId, 'child'))?.parentBuildId).toBe(second);
  });
});

describe('pipelines set by older builds', () => {
  it('are archived when a newer build of the job succeeds without setting them', async () => {
    expect((await findPipeline(db, teamId, 'child'))?.archived).toBe(false);
    // The job no longer sets the child: its next successful build archives it (build.Finish).
    const withoutSetPipeline = YAML.replace(
      `  - set_pipeline: child
    file: source/child.yml
    vars: {greeting: hello-from-vars}
`,
      '',
    );
    expect(withoutSetPipeline).not.toBe(YAML);
    await setPipeline(ts.url, admin, 'main', 'jobs', withoutSetPipeline);
    const buildId = await runJob('configure', [await sourceInput()]);
    expect((await finished(buildId)).status).toBe('succeeded');
    expect(await findPipeline(db, teamId, 'child')).toMatchObject({ archived: true, paused: true });
  });
});

it('logged nothing at error level', () => {
  expect(ts.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
});
