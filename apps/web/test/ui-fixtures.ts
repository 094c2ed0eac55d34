// Pipeline, job and resource answers shaped as concourse-api.md §2 documents them, for the UI's pipeline
// views until the pipelines API serves them. Only what the server cannot answer yet is taken from here.
const now = Math.floor(Date.now() / 1000);

const build = (
  id: number,
  name: string,
  job: string,
  status: string,
  ago: number,
  extra: Record<string, unknown> = {},
) => ({
  id,
  name,
  status,
  team_name: 'main',
  pipeline_id: 1,
  pipeline_name: 'demo',
  job_name: job,
  api_url: `/api/v1/builds/${id}`,
  start_time: now - ago,
  ...(status === 'started' || status === 'pending' ? {} : { end_time: now - ago + 95 }),
  ...extra,
});

const pipeline = (id: number, name: string, team: string, extra: Record<string, unknown> = {}) => ({
  id,
  name,
  team_name: team,
  paused: false,
  public: true,
  archived: false,
  ...extra,
});

const job = (
  id: number,
  pipelineId: number,
  pipelineName: string,
  name: string,
  extra: Record<string, unknown>,
) => ({
  id,
  name,
  team_name: 'main',
  pipeline_id: pipelineId,
  pipeline_name: pipelineName,
  next_build: null,
  finished_build: null,
  ...extra,
});

const DEMO_JOBS = [
  job(1, 1, 'demo', 'unit', {
    groups: ['test'],
    inputs: [{ name: 'repo', resource: 'repo', trigger: true }],
    finished_build: build(901, '12', 'unit', 'succeeded', 600),
  }),
  job(2, 1, 'demo', 'integration', {
    groups: ['test'],
    inputs: [
      { name: 'repo', resource: 'repo', trigger: true, passed: ['unit'] },
      { name: 'db-image', resource: 'db-image', trigger: false },
    ],
    finished_build: build(902, '7', 'integration', 'failed', 500),
    next_build: build(903, '8', 'integration', 'started', 30),
  }),
  job(3, 1, 'demo', 'build-image', {
    groups: ['ship'],
    inputs: [
      { name: 'repo', resource: 'repo', trigger: true, passed: ['integration'] },
      { name: 'version', resource: 'version', trigger: false },
    ],
    outputs: [
      { name: 'image', resource: 'image' },
      { name: 'version', resource: 'version' },
    ],
    finished_build: build(904, '3', 'build-image', 'errored', 4000),
  }),
  job(4, 1, 'demo', 'deploy', {
    groups: ['ship'],
    paused: true,
    inputs: [{ name: 'image', resource: 'image', trigger: true, passed: ['build-image'] }],
    finished_build: build(905, '2', 'deploy', 'aborted', 9000),
  }),
];

const DEMO_RESOURCES = [
  {
    name: 'repo',
    type: 'git',
    team_name: 'main',
    pipeline_id: 1,
    pipeline_name: 'demo',
    last_checked: now - 40,
  },
  {
    name: 'db-image',
    type: 'registry-image',
    team_name: 'main',
    pipeline_id: 1,
    pipeline_name: 'demo',
    last_checked: now - 40,
    pinned_version: { digest: 'sha256:1f2e' },
    pin_comment: 'hold until the migration lands',
  },
  {
    name: 'version',
    type: 'semver',
    team_name: 'main',
    pipeline_id: 1,
    pipeline_name: 'demo',
    last_checked: now - 3000,
    build: {
      id: 906,
      name: 'check',
      status: 'errored',
      team_name: 'main',
      start_time: now - 3000,
      end_time: now - 2990,
    },
  },
  { name: 'image', type: 'registry-image', team_name: 'main', pipeline_id: 1, pipeline_name: 'demo' },
];

const P = '/api/v1/teams/main/pipelines/demo';

/** Path (no query) → JSON body. */
export const PIPELINE_FIXTURES: Record<string, unknown> = {
  '/api/v1/pipelines': [
    pipeline(1, 'demo', 'main', {
      groups: [
        { name: 'test', jobs: ['unit', 'integration'] },
        { name: 'ship', jobs: ['build-image', 'deploy'] },
      ],
    }),
    pipeline(2, 'docs-site', 'main', { paused: true, paused_by: 'admin' }),
    pipeline(3, 'nightly', 'ops', { public: false }),
    pipeline(4, 'old-thing', 'ops', { archived: true }),
  ],
  '/api/v1/jobs': [
    ...DEMO_JOBS,
    job(5, 2, 'docs-site', 'publish', { finished_build: build(907, '40', 'publish', 'succeeded', 100) }),
    job(6, 3, 'nightly', 'backup', { finished_build: build(908, '300', 'backup', 'succeeded', 100) }),
    job(7, 3, 'nightly', 'verify', {
      inputs: [{ name: 'b', resource: 'b', passed: ['backup'] }],
      finished_build: build(909, '299', 'verify', 'succeeded', 90),
    }),
  ],
  [P]: pipeline(1, 'demo', 'main', {
    groups: [
      { name: 'test', jobs: ['unit', 'integration'] },
      { name: 'ship', jobs: ['build-image', 'deploy'] },
    ],
  }),
  [`${P}/jobs`]: DEMO_JOBS,
  [`${P}/resources`]: DEMO_RESOURCES,
  [`${P}/jobs/integration`]: DEMO_JOBS[1],
  [`${P}/jobs/integration/builds`]: [
    build(903, '8', 'integration', 'started', 30),
    build(902, '7', 'integration', 'failed', 500),
    build(910, '6', 'integration', 'succeeded', 5000),
  ],
  [`${P}/jobs/integration/inputs`]: [
    { name: 'repo', resource: 'repo', type: 'git', source: {}, version: { ref: '4f1c2d9' } },
    {
      name: 'db-image',
      resource: 'db-image',
      type: 'registry-image',
      source: {},
      version: { digest: 'sha256:1f2e' },
    },
  ],
  [`${P}/resources/db-image`]: DEMO_RESOURCES[1],
  [`${P}/resources/db-image/versions`]: [
    { id: 31, version: { digest: 'sha256:9a8b' }, enabled: true, metadata: [{ name: 'tag', value: '16.2' }] },
    {
      id: 30,
      version: { digest: 'sha256:1f2e' },
      enabled: true,
      metadata: [
        { name: 'tag', value: '16.1' },
        { name: 'pushed', value: '2026-10-30' },
      ],
    },
    { id: 29, version: { digest: 'sha256:77aa' }, enabled: false },
  ],
};
