// Periodic checks of pipeline resource types against a real server (local runtime): a type a resource uses
// gets its new versions every --resource-type-checking-interval with no resource check; a type's
// `check_every` counts instead of the flag, `never` is never checked, and a type no resource uses is left
// alone. The types' own type, `counter`, reports the content of a file as its version, so the test changes
// the version by writing the file.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import { ADMIN, loginToken, startTestServer, until, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

const YAML = `
resource_types:
- name: greeter
  type: counter
  source: {name: greeter}
- name: hourly
  type: counter
  source: {name: hourly}
  check_every: 1h
- name: unchecked
  type: counter
  source: {name: unchecked}
  check_every: never
- name: unused
  type: counter
  source: {name: unused}
resources:
- name: hello
  type: greeter
  check_every: 1h
  source: {}
- name: hourly-res
  type: hourly
  check_every: 1h
  source: {}
- name: unchecked-res
  type: unchecked
  check_every: 1h
  source: {}
jobs:
- name: use
  plan:
  - get: hello
  - get: hourly-res
  - get: unchecked-res
`;

let ts: TestServer;
let admin: string;
let typesDir: string;
let versionFile: string;

async function writeType(name: string, check: string): Promise<void> {
  await mkdir(path.join(typesDir, name), { recursive: true });
  const file = path.join(typesDir, name, 'check');
  await writeFile(file, `#!/bin/sh\nset -e\ncat > /dev/null\n${check}\n`);
  await chmod(file, 0o755);
}

interface TypeState {
  versions: unknown[];
  checkBuilds: Array<{ manually_triggered: boolean; status: string }>;
}

/** The versions of the type's scope (oldest first) and its check builds. */
async function typeState(name: string): Promise<TypeState> {
  const db = ts.server.ctx.db;
  const { rows } = await sql<{ version: unknown }>`
    select v.version from resource_types rt
    join resource_config_versions v on v.resource_config_scope_id = rt.resource_config_scope_id
    where rt.name = ${name} order by v.check_order`.execute(db);
  const checkBuilds = await db
    .selectFrom('builds as b')
    .innerJoin('resource_types as rt', 'rt.id', 'b.resource_type_id')
    .select(['b.manually_triggered', 'b.status'])
    .where('rt.name', '=', name)
    .execute();
  return { versions: rows.map((row) => row.version), checkBuilds };
}

async function lastResourceChecks(): Promise<Record<string, number | null>> {
  const rows = await ts.server.ctx.db
    .selectFrom('resources')
    .select(['name', 'last_check_build_id'])
    .orderBy('name')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.name, row.last_check_build_id]));
}

function hasVersion(ref: string): (state: TypeState) => boolean {
  return (state) => state.versions.some((v) => JSON.stringify(v) === JSON.stringify({ ref }));
}

beforeAll(async () => {
  typesDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-type-checks-'));
  versionFile = path.join(typesDir, 'current-version');
  await writeFile(versionFile, 'v1');
  await writeType('counter', `printf '[{"ref":"%s"}]' "$(cat '${versionFile}')"`);
  for (const name of ['greeter', 'hourly', 'unchecked']) await writeType(name, `echo '[{"n":"1"}]'`);
  ts = await startTestServer({
    env: {
      JETBRIDGE_RESOURCE_TYPES_DIR: typesDir,
      CONCOURSE_LIDAR_SCANNER_INTERVAL: '250ms',
      CONCOURSE_RESOURCE_CHECKING_INTERVAL: '1s',
      CONCOURSE_RESOURCE_TYPE_CHECKING_INTERVAL: '1s',
    },
  });
  admin = await loginToken(ts.url, ADMIN);
  await setPipeline(ts.url, admin, 'main', 'types', YAML);
  expect((await call(pipelineUrl(ts.url, 'main', 'types', '/unpause'), admin, 'PUT')).status).toBe(200);
});

afterAll(async () => {
  await ts?.destroy();
  if (typesDir) await rm(typesDir, { recursive: true, force: true });
});

describe('periodic resource type checks', () => {
  it('finds a type’s new version with no resource check, and respects check_every and use', async () => {
    await until('the types in use to be checked', async () => {
      const [greeter, hourly] = await Promise.all([typeState('greeter'), typeState('hourly')]);
      return hasVersion('v1')(greeter) && hasVersion('v1')(hourly) ? true : undefined;
    });
    // Each resource was checked once at the start (check_every: 1h): no other check comes.
    const resourceChecks = await until('every resource to be checked once', async () => {
      const checks = await lastResourceChecks();
      return Object.values(checks).every((id) => id !== null) ? checks : undefined;
    });

    await writeFile(versionFile, 'v2');
    const greeter = await until(
      'the type to find v2',
      async () => {
        const state = await typeState('greeter');
        return hasVersion('v2')(state) ? state : undefined;
      },
      15_000,
    );
    expect(greeter.versions).toEqual([{ ref: 'v1' }, { ref: 'v2' }]);
    // Periodic checks: builds the checker made, not requested ones.
    expect(greeter.checkBuilds.length).toBeGreaterThanOrEqual(1);
    expect(greeter.checkBuilds.every((build) => !build.manually_triggered)).toBe(true);

    // Give the others several scans and intervals to (wrongly) check.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await lastResourceChecks()).toEqual(resourceChecks);
    // check_every: 1h — checked once, at the start.
    expect((await typeState('hourly')).versions).toEqual([{ ref: 'v1' }]);
    // check_every: never, and no resource using it: never checked.
    expect(await typeState('unchecked')).toEqual({ versions: [], checkBuilds: [] });
    expect(await typeState('unused')).toEqual({ versions: [], checkBuilds: [] });
    // Its recorded check is the scope's: it ended, and succeeded.
    const scope = await ts.server.ctx.db
      .selectFrom('resource_types as rt')
      .innerJoin('resource_config_scopes as s', 's.id', 'rt.resource_config_scope_id')
      .select(['s.last_check_end_time', 's.last_check_succeeded', 'rt.check_error'])
      .where('rt.name', '=', 'greeter')
      .executeTakeFirstOrThrow();
    expect(scope.last_check_succeeded).toBe(true);
    expect(scope.last_check_end_time).not.toBeNull();
    expect(scope.check_error).toBeNull();
  });

  it('stops checking the types of a paused pipeline', async () => {
    expect((await call(pipelineUrl(ts.url, 'main', 'types', '/pause'), admin, 'PUT')).status).toBe(200);
    // A check already under way may still end; after that, nothing new.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = (await typeState('greeter')).checkBuilds.length;
    await writeFile(versionFile, 'v3');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = await typeState('greeter');
    expect(after.checkBuilds.length).toBe(before);
    expect(hasVersion('v3')(after)).toBe(false);
  });
});
