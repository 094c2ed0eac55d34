import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findPipeline, findResource, type Database, type Kysely } from '@jetbridge/db';
import { logText, readBuildEvents } from './execute-client.js';
import { finishedBuild } from './execute-flow.js';
import { ADMIN, loginToken, startPausedJobBuild, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * A pipeline's custom resource type on the local runtime: the type's image (a registry-image source) is
 * ignored and the type runs from `<--resource-types-dir>/<type name>/{check,in,out}` with Concourse's
 * resource protocol; its `defaults` are merged under the resource's source, and the build plan carries the
 * type's image sub-plans with `privileged`, `params` and `check_every` (what a container runtime runs).
 */
let ts: TestServer;
let admin: string;
let db: Kysely<Database>;
let typesDir: string;

const YAML = `
resource_types:
- name: greeter
  type: registry-image
  source: {repository: example.com/greeter-resource, tag: "2"}
  defaults: {greeting: hello}
  params: {format: oci}
  check_every: 2m
  privileged: true
resources:
- name: hello
  type: greeter
  check_every: never
  source: {target: world}
jobs:
- name: greet
  plan:
  - get: hello
  - task: show
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      inputs: [{name: hello}]
      run: {path: sh, args: [-ec, 'cat hello/request.json; echo; cat hello/ref']}
  - put: hello
    params: {say: bye}
    no_get: true
`;

/** The type: `check` lists two refs, `in` keeps its request, `out` echoes the params as a new ref. */
async function writeGreeterType(dir: string): Promise<void> {
  const scripts: Record<string, string> = {
    check: `cat > /dev/null\necho '[{"ref":"r1"},{"ref":"r2"}]'`,
    in: `cd "$1"\ncat > request.json\nsed -n 's/.*"ref":"\\([^"]*\\)".*/\\1/p' request.json > ref\necho '{"version":{"ref":"'"$(cat ref)"'"},"metadata":[{"name":"greeted","value":"yes"}]}'`,
    out: `request=$(cat)\necho "out got: $request" >&2\necho '{"version":{"ref":"from-put"}}'`,
  };
  await mkdir(path.join(dir, 'greeter'), { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    const file = path.join(dir, 'greeter', name);
    await writeFile(file, `#!/bin/sh\nset -e\n${body}\n`);
    await chmod(file, 0o755);
  }
}

const finished = async (buildId: number) => (await finishedBuild(ts.url, admin, buildId)).status;

const url = (suffix: string) => pipelineUrl(ts.url, 'main', 'types', suffix);

beforeAll(async () => {
  typesDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-types-'));
  await writeGreeterType(typesDir);
  ts = await startTestServer({ env: { JETBRIDGE_RESOURCE_TYPES_DIR: typesDir } });
  admin = await loginToken(ts.url, ADMIN);
  db = ts.server.ctx.db;
  await setPipeline(ts.url, admin, 'main', 'types', YAML);
});

afterAll(async () => {
  await ts?.destroy();
  await rm(typesDir, { recursive: true, force: true });
});

describe('a custom resource type on the local runtime', () => {
  let buildId: number;

  it('checks the resource with the type’s check from the directory', async () => {
    const check = await call(url('/resources/hello/check'), admin, 'POST', { from: null });
    expect(check.status).toBe(201);
    expect(await finished(check.json<{ id: number }>().id)).toBe('succeeded');
    const versions = (await call(url('/resources/hello/versions'), admin)).json<
      Array<{ version: unknown }>
    >();
    expect(versions.map((v) => v.version)).toEqual([{ ref: 'r2' }, { ref: 'r1' }]);
  });

  it('gets and puts with it in a job build; the source has the type’s defaults under it', async () => {
    const teamId = (
      await db.selectFrom('teams').select('id').where('name', '=', 'main').executeTakeFirstOrThrow()
    ).id;
    const pipeline = await findPipeline(db, teamId, 'types');
    const resource = await findResource(db, pipeline!.id, 'hello');
    buildId = await startPausedJobBuild(ts, 'types', 'greet', [
      { name: 'hello', resourceId: resource!.id, version: { ref: 'r2' }, firstOccurrence: true },
    ]);
    expect(await finished(buildId)).toBe('succeeded');
    const log = logText((await readBuildEvents(ts.url, admin, buildId)).events);
    expect(log).toContain('"source":{"greeting":"hello","target":"world"}');
    expect(log).toContain('"version":{"ref":"r2"}');
    expect(log).toContain('out got: {"source":{"greeting":"hello","target":"world"},"params":{"say":"bye"}}');
  });

  it('plans the type image with its privileged, params and check_every', async () => {
    // The private plan (the public one leaves sources and image details out).
    const { plan } = await db
      .selectFrom('builds')
      .select('plan')
      .where('id', '=', buildId)
      .executeTakeFirstOrThrow();
    const image = {
      get_plan: {
        get: {
          type: 'registry-image',
          source: { repository: 'example.com/greeter-resource', tag: '2' },
          params: { format: 'oci' },
        },
      },
      check_plan: { check: { interval: '2m0s', resource_type: 'greeter' } },
      base_type: 'registry-image',
      privileged: true,
    };
    expect(plan).toMatchObject({
      do: [
        { get: { type: 'greeter', source: { greeting: 'hello', target: 'world' }, image } },
        {},
        { put: { type: 'greeter', image } },
      ],
    });
  });
});
