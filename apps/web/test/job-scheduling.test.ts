import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  findPipeline,
  findResource,
  saveResourceVersions,
  setResourceConfigScope,
} from '@jetbridge/db';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * The scheduler inside a running server (concourse-semantics.md §5, concourse-api.md §2.6–2.7): the API's
 * doorbells (`fly schedule-job`, `fly trigger-job`) make it resolve inputs at once; `GET P/jobs/:job/inputs`
 * shows what it resolved and `GET /builds/:id/preparation` why a pending build waits. Versions are saved
 * through the db queries a check uses (the resource is never checked: `check_every: never`).
 */
let ts: TestServer;
let admin: string;

const YAML = `
resources:
- {name: repo, type: git, check_every: never, source: {uri: https://example.com/repo.git}}
jobs:
- {name: unit, plan: [{get: repo}]}
- {name: deploy, plan: [{get: repo, passed: [unit]}]}
`;

function url(suffix = ''): string {
  return pipelineUrl(ts.url, 'main', 'scheduled', suffix);
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
  await setPipeline(ts.url, admin, 'main', 'scheduled', YAML);
  expect((await call(url('/unpause'), admin, 'PUT')).status).toBe(200);
  const db = ts.server.ctx.db;
  const team = await db.selectFrom('teams').select('id').where('name', '=', 'main').executeTakeFirstOrThrow();
  const pipeline = await findPipeline(db, team.id, 'scheduled');
  const repo = await findResource(db, pipeline!.id, 'repo');
  const configId = await findOrCreateResourceConfig(db, 'git', { uri: 'https://example.com/repo.git' });
  const scopeId = await findOrCreateResourceConfigScope(db, configId, repo!.id);
  await setResourceConfigScope(db, repo!.id, configId, scopeId);
  await saveResourceVersions(db, scopeId, [{ version: { ref: 'a' } }, { version: { ref: 'b' } }]);
});

afterAll(async () => {
  await ts?.destroy();
});

describe('job scheduling in the server', () => {
  it('resolves next inputs when asked to schedule, and lists them', async () => {
    expect((await call(url('/jobs/unit/schedule'), admin, 'PUT')).status).toBe(200);
    const inputs = await eventually(async () => {
      const reply = await call(url('/jobs/unit/inputs'), admin);
      return reply.status === 200 ? reply.json() : undefined;
    }, 'next inputs of unit');
    expect(inputs).toEqual([
      {
        name: 'repo',
        resource: 'repo',
        type: 'git',
        source: { uri: 'https://example.com/repo.git' },
        version: { ref: 'b' },
      },
    ]);
    // trigger is false: nothing is built, but the job shows it has new inputs.
    expect((await call(url('/jobs/unit'), admin)).json()).toMatchObject({
      has_new_inputs: true,
      next_build: null,
    });
  });

  it('says why a triggered build waits', async () => {
    const triggered = await call(url('/jobs/deploy/builds'), admin, 'POST');
    expect(triggered.status).toBe(200);
    const build = triggered.json<{ id: number }>();
    const preparation = await eventually(async () => {
      const reply = await call(`${ts.url}/api/v1/builds/${build.id}/preparation`, admin);
      expect(reply.status).toBe(200);
      const json = reply.json<{ missing_input_reasons: Record<string, string> }>();
      return json.missing_input_reasons['repo']?.startsWith('no satisfiable') ? json : undefined;
    }, 'the resolve error of deploy');
    expect(preparation).toEqual({
      build_id: build.id,
      paused_pipeline: 'not_blocking',
      paused_job: 'not_blocking',
      max_running_builds: 'not_blocking',
      inputs: { repo: 'blocking' },
      inputs_satisfied: 'blocking',
      missing_input_reasons: { repo: 'no satisfiable builds from passed jobs found for set of inputs' },
    });
    expect((await call(url('/jobs/deploy/inputs'), admin)).status).toBe(404);
    expect((await call(`${ts.url}/api/v1/builds/${build.id}`, admin)).json()).toMatchObject({
      status: 'pending',
    });
    expect((await call(`${ts.url}/api/v1/builds/987654/preparation`, admin)).status).toBe(404);
  });
});
