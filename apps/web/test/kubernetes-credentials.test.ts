import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import { logText, readBuildEvents } from './execute-client.js';
import { FLY_SKIP_REASON, FlyCli, flyAvailable } from './fly-cli.js';
import { finishedBuild } from './execute-flow.js';
import { ADMIN, loginToken, startPausedJobBuild, startTestServer, type TestServer } from './harness.js';
import { call, putConfig, setPipeline } from './pipeline-client.js';

/**
 * Pipeline builds whose `((vars))` come from Kubernetes Secrets (--kubernetes-config-path against the in-repo
 * Kubernetes API test server) with the secret cache on: the value reaches the task, the log shows it
 * redacted, `<pipeline>.<var>` wins over `<var>`, a missing var errors the build with Concourse's message,
 * and a rotated secret is only seen once the cache entry expires. Pipeline var_sources (dummy) too.
 */
let kube: KubeTestServer;
let scratch: string;
let ts: TestServer;
let admin: string;

const TASK = (script: string) => `
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      run: {path: sh, args: [-ec, ${JSON.stringify(script)}]}`;

const YAML = `
var_sources:
- name: local
  type: dummy
  config:
    vars:
      greeting: hello-((team-word))
jobs:
- name: use-secrets
  plan:
  - task: show
    config:
${TASK('test "$PASSWORD" = pipeline-only; test "$USERNAME" = bot; echo "password is $PASSWORD, greeting is $GREETING"')}
    params:
      PASSWORD: ((db-password))
      USERNAME: ((registry.username))
      GREETING: ((local:greeting))
- name: local-vars
  plan:
  - task: make
    config:
      outputs: [{name: out}]
${TASK('printf from-file > out/v')}
  - load_var: loaded
    file: out/v
  - task: use
    config:
${TASK('test "$LOADED" = from-file; test "$PASSWORD" = pipeline-only')}
    params: {LOADED: ((.:loaded)), PASSWORD: ((db-password))}
- name: missing-local
  plan:
  - task: show
    config:
${TASK('echo never')}
    params: {X: ((.:nothing))}
- name: missing
  plan:
  - task: show
    config:
${TASK('echo never')}
    params: {X: ((not-there))}
`;

async function secret(method: 'POST' | 'PUT', name: string, data: Record<string, string>): Promise<void> {
  const base = `${kube.url}/api/v1/namespaces/concourse-main/secrets`;
  const response = await fetch(method === 'POST' ? base : `${base}/${name}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name }, stringData: data }),
  });
  expect(response.ok).toBe(true);
}

const finished = async (buildId: number) => (await finishedBuild(ts.url, admin, buildId)).status;

/** A build of a paused job (so no scheduler starts one), started here. */
const runJob = (jobName: string) => startPausedJobBuild(ts, 'app', jobName);

const secretReads = (): number =>
  kube.requests().filter((request) => request.method === 'GET' && request.path.includes('/secrets/')).length;

beforeAll(async () => {
  kube = await startKubeTestServer();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-creds-'));
  const kubeconfig = path.join(scratch, 'kubeconfig');
  await kube.writeKubeConfig(kubeconfig);
  await secret('POST', 'db-password', { value: 'team-wide' });
  await secret('POST', 'app.db-password', { value: 'pipeline-only' });
  await secret('POST', 'registry', { username: 'bot', password: 'registry-password' });
  await secret('POST', 'team-word', { value: 'main-team' });
  ts = await startTestServer({
    env: {
      CONCOURSE_KUBERNETES_CONFIG_PATH: kubeconfig,
      CONCOURSE_SECRET_CACHE_ENABLED: 'true',
      CONCOURSE_SECRET_CACHE_DURATION: '1h',
    },
  });
  admin = await loginToken(ts.url, ADMIN);
  await setPipeline(ts.url, admin, 'main', 'app', YAML);
});

afterAll(async () => {
  await ts?.destroy();
  await kube?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('a pipeline with Kubernetes secrets', () => {
  it('resolves <pipeline>.<var> before <var>, fields of a secret without `value`, and var_sources', async () => {
    const buildId = await runJob('use-secrets');
    expect(await finished(buildId)).toBe('succeeded');
    const log = logText((await readBuildEvents(ts.url, admin, buildId)).events);
    expect(log).toContain('password is ((redacted)), greeting is ((redacted))');
    expect(log).not.toContain('pipeline-only');
    expect(log).not.toContain('hello-main-team');
  });

  it('errors a build whose var no secret has, with Concourse’s message', async () => {
    const buildId = await runJob('missing');
    expect(await finished(buildId)).toBe('errored');
    const { events } = await readBuildEvents(ts.url, admin, buildId);
    expect(events.find((event) => event.event === 'error')?.data['message']).toBe(
      'failed to interpolate task config: undefined vars: not-there',
    );
  });

  it('reads ((.:local)) vars from load_var; with var_sources declared, an unknown one names the missing source', async () => {
    const buildId = await runJob('local-vars');
    expect(await finished(buildId)).toBe('succeeded');
    const failing = await runJob('missing-local');
    expect(await finished(failing)).toBe('errored');
    const { events } = await readBuildEvents(ts.url, admin, failing);
    expect(events.find((event) => event.event === 'error')?.data['message']).toBe(
      "failed to interpolate task config: missing source '.' in var: .:nothing",
    );
  });

  it('checks a config’s vars against the secrets with check_creds (fly set-pipeline --check-creds)', async () => {
    const yaml = (token: string) =>
      `resources: [{name: r, type: mock, source: {password: ((db-password)), user: ((registry.username))}, webhook_token: ${token}}]\njobs: [{name: j, plan: [{get: r}]}]`;
    expect(
      (await putConfig(ts.url, admin, 'main', 'checked', yaml('plain'), { checkCreds: true })).status,
    ).toBe(201);
    const refused = await putConfig(ts.url, admin, 'main', 'refused', yaml('((no-such-token))'), {
      checkCreds: true,
    });
    expect(refused.status).toBe(400);
    expect(refused.json()).toEqual({
      errors: ['credential validation failed\n\n1 error occurred:\n\t* undefined vars: no-such-token\n\n'],
    });
  });

  it('keeps answers for --secret-cache-duration: a rotated secret is not read again', async () => {
    const readsBefore = secretReads();
    await secret('PUT', 'app.db-password', { value: 'rotated' });
    const buildId = await runJob('use-secrets');
    // The task insists on the old value: the cached one.
    expect(await finished(buildId)).toBe('succeeded');
    expect(secretReads()).toBe(readsBefore);
  });
});

const describeFly = flyAvailable ? describe : describe.skip;
describeFly(
  `fly set-pipeline -v/-y/-l with --check-creds${flyAvailable ? '' : ` [skipped: ${FLY_SKIP_REASON}]`}`,
  () => {
    let fly: FlyCli;
    beforeAll(async () => {
      fly = await FlyCli.login(ts.url, ADMIN);
    });
    afterAll(async () => {
      await fly?.dispose();
    });

    const pipeline = (extra: string) => `
jobs:
- name: j
  plan:
  - task: t
    config:
${TASK('true')}
    params:
      GREETING: ((greeting))
      COUNT: ((count))
      NESTED: ((from-file.nested))
      PASSWORD: ((db-password))${extra}
`;

    it('interpolates fly’s vars, leaves the rest for the credential manager, which --check-creds consults', async () => {
      await writeFile(path.join(fly.home, 'pipeline.yml'), pipeline(''));
      await writeFile(path.join(fly.home, 'vars.yml'), 'from-file: {nested: deep}\n');
      const args = ['-c', 'pipeline.yml', '-v', 'greeting=hi', '-y', 'count=3', '-l', 'vars.yml'];
      const set = await fly.run(['set-pipeline', '-p', 'flyvars', ...args, '--check-creds', '-n']);
      expect(set.stderr).toBe('');
      expect(set.code).toBe(0);
      const config = (await call(`${ts.url}/api/v1/teams/main/pipelines/flyvars/config`, admin)).json<{
        config: { jobs: Array<{ plan: Array<{ params: unknown }> }> };
      }>().config;
      expect(config.jobs[0]?.plan[0]?.params).toEqual({
        GREETING: 'hi',
        COUNT: '3', // task params are a string map (atc.TaskEnv)
        NESTED: 'deep',
        PASSWORD: '((db-password))',
      });

      await writeFile(path.join(fly.home, 'pipeline.yml'), pipeline('\n      OTHER: ((nobody-has-this))'));
      const refused = await fly.run(['set-pipeline', '-p', 'flyvars', ...args, '--check-creds', '-n']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr + refused.stdout).toContain('undefined vars: nobody-has-this');
    });
  },
);
