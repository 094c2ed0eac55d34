import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { listAlgorithmInputs, sql, type VersionJson } from '@jetbridge/db';
import { SchedulerTestDatabase, type TestPipeline } from '../testing/scheduler-fixture.js';
import { computeInputs, groupByPassedJobs } from './compute-inputs.js';

/**
 * Input resolution (concourse-semantics.md §5.2) against a real PostgreSQL: versions saved as checks save
 * them, upstream builds recorded as the build runner records them, then the job's inputs computed.
 */
let database: SchedulerTestDatabase;
let pipelines = 0;

beforeAll(async () => {
  database = await SchedulerTestDatabase.start();
});

afterAll(async () => {
  await database?.close();
});

function setPipeline(yaml: string): Promise<TestPipeline> {
  pipelines += 1;
  return database.setPipeline(`algorithm-${pipelines}`, yaml);
}

const v = (ref: string): VersionJson => ({ ref });

/** The job's computed inputs: each input's version (or `error: …`), plus hasNext and first occurrences. */
async function resolve(pipeline: TestPipeline, job: string) {
  const jobId = await pipeline.jobId(job);
  const computed = await computeInputs(database.db, jobId, await listAlgorithmInputs(database.db, jobId));
  const versions: Record<string, VersionJson | string> = {};
  const firstOccurrences: string[] = [];
  for (const entry of computed.entries) {
    if (entry.versionSha256 === null) {
      versions[entry.input.name] = `error: ${entry.resolveError ?? ''}`;
      continue;
    }
    const { rows } = await sql<{ version: VersionJson }>`
      select v.version from resource_config_versions v join resources r on r.resource_config_scope_id = v.resource_config_scope_id
      where r.id = ${entry.input.resourceId} and v.version_sha256 = ${entry.versionSha256}`.execute(
      database.db,
    );
    versions[entry.input.name] = rows[0]?.version ?? 'unknown';
    if (entry.firstOccurrence) firstOccurrences.push(entry.input.name);
  }
  return { versions, resolved: computed.resolved, hasNext: computed.hasNext, firstOccurrences, computed };
}

describe('inputs without passed', () => {
  it('latest: the newest version by check order', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo}]}]`);
    expect((await resolve(p, 'unit')).versions).toEqual({
      repo: 'error: latest version of resource not found',
    });
    await p.addVersions('repo', [v('a'), v('b'), v('c')]);
    expect(await resolve(p, 'unit')).toMatchObject({
      versions: { repo: v('c') },
      resolved: true,
      firstOccurrences: ['repo'],
    });
    // A check returning older versions along with a new one moves them all to the top, in its order.
    await p.addVersions('repo', [v('d'), v('a')]);
    expect((await resolve(p, 'unit')).versions).toEqual({ repo: v('a') });
  });

  it('skips disabled versions', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo}]}]`);
    await p.addVersions('repo', [v('a'), v('b'), v('c')]);
    await p.disableVersion('repo', v('c'));
    expect((await resolve(p, 'unit')).versions).toEqual({ repo: v('b') });
    await p.disableVersion('repo', v('b'));
    await p.disableVersion('repo', v('a'));
    expect((await resolve(p, 'unit')).versions).toEqual({
      repo: 'error: latest version of resource not found',
    });
  });

  it('every: starts at the latest, then takes each newer version in turn, skipping disabled ones', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs: [{name: each, plan: [{get: repo, version: every}]}]`);
    expect((await resolve(p, 'each')).versions).toEqual({ repo: 'error: version of resource not found' });
    await p.addVersions('repo', [v('a'), v('b'), v('c'), v('d')]);
    // Never used: the latest, not the oldest.
    expect(await resolve(p, 'each')).toMatchObject({ versions: { repo: v('d') }, hasNext: false });

    const p2 = await setPipeline(`
resources: [{name: repo, type: git}]
jobs: [{name: each, plan: [{get: repo, version: every}]}]`);
    await p2.addVersions('repo', [v('a'), v('b'), v('c'), v('d')]);
    await p2.finishedBuild('each', 'succeeded', { repo: ['repo', v('a')] });
    expect(await resolve(p2, 'each')).toMatchObject({ versions: { repo: v('b') }, hasNext: true });
    await p2.disableVersion('repo', v('c'));
    await p2.finishedBuild('each', 'failed', { repo: ['repo', v('b')] });
    // A failed build used its version too; the disabled one is skipped.
    expect(await resolve(p2, 'each')).toMatchObject({ versions: { repo: v('d') }, hasNext: false });
    await p2.finishedBuild('each', 'succeeded', { repo: ['repo', v('d')] });
    // Nothing newer: the same version again, not a first occurrence.
    expect(await resolve(p2, 'each')).toMatchObject({ versions: { repo: v('d') }, firstOccurrences: [] });
  });

  it('pinned: the get step version beats the resource pin, config or API; a partial pin matches', async () => {
    const p = await setPipeline(`
resources:
- {name: repo, type: git}
- {name: pinned-in-config, type: git, version: {ref: b}}
jobs:
- name: unit
  plan:
  - get: repo
  - {get: step-pinned, resource: repo, version: {ref: a}}
  - get: pinned-in-config
  - {get: step-beats-config, resource: pinned-in-config, version: {ref: c}}`);
    await p.addVersions('repo', [
      { ref: 'a', branch: 'main' },
      { ref: 'b', branch: 'main' },
      { ref: 'c', branch: 'main' },
    ]);
    await p.addVersions('pinned-in-config', [v('a'), v('b'), v('c')]);
    expect((await resolve(p, 'unit')).versions).toEqual({
      repo: { ref: 'c', branch: 'main' },
      'step-pinned': { ref: 'a', branch: 'main' },
      'pinned-in-config': v('b'),
      'step-beats-config': v('c'),
    });

    // `fly pin-resource` pins every input of the resource that has no pin of its own.
    await p.pin('repo', { ref: 'b', branch: 'main' });
    expect((await resolve(p, 'unit')).versions).toMatchObject({
      repo: { ref: 'b', branch: 'main' },
      'step-pinned': { ref: 'a', branch: 'main' },
    });
  });

  it('pinned: a version that does not exist is a resolve error naming the pin', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs: [{name: unit, plan: [{get: repo, version: {ref: nope, branch: x}}]}]`);
    await p.addVersions('repo', [v('a')]);
    expect(await resolve(p, 'unit')).toMatchObject({
      versions: { repo: 'error: pinned version branch:x ref:nope not found' },
      resolved: false,
    });
  });
});

describe('inputs with passed', () => {
  it('one passed job: the newest version a succeeded build of that job used', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs:
- {name: unit, plan: [{get: repo, trigger: true}]}
- {name: deploy, plan: [{get: repo, passed: [unit]}]}`);
    await p.addVersions('repo', [v('a'), v('b'), v('c')]);
    expect((await resolve(p, 'deploy')).versions).toEqual({
      repo: 'error: no satisfiable builds from passed jobs found for set of inputs',
    });
    const a = await p.finishedBuild('unit', 'succeeded', { repo: ['repo', v('a')] });
    await p.finishedBuild('unit', 'failed', { repo: ['repo', v('c')] });
    const result = await resolve(p, 'deploy');
    expect(result.versions).toEqual({ repo: v('a') });
    expect(result.computed.entries[0]?.passedBuildIds).toEqual([a]);
    // A disabled version is skipped even when an upstream build vouches for it.
    await p.finishedBuild('unit', 'succeeded', { repo: ['repo', v('b')] });
    expect((await resolve(p, 'deploy')).versions).toEqual({ repo: v('b') });
    await p.disableVersion('repo', v('b'));
    expect((await resolve(p, 'deploy')).versions).toEqual({ repo: v('a') });
  });

  it('a put of the passed job is preferred over what it got', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs:
- {name: bump, plan: [{get: repo}, {put: repo}]}
- {name: deploy, plan: [{get: repo, passed: [bump]}]}`);
    await p.addVersions('repo', [v('a'), v('b')]);
    await p.finishedBuild('bump', 'succeeded', { repo: ['repo', v('a')] }, { repo: ['repo', v('b')] });
    expect((await resolve(p, 'deploy')).versions).toEqual({ repo: v('b') });
  });

  it('two passed jobs (fan-in): only a version that went through both', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs:
- {name: unit, plan: [{get: repo, trigger: true}]}
- {name: lint, plan: [{get: repo, trigger: true}]}
- {name: ship, plan: [{get: repo, passed: [unit, lint], trigger: true}]}`);
    await p.addVersions('repo', [v('a'), v('b'), v('c')]);
    for (const ref of ['a', 'b', 'c']) await p.finishedBuild('unit', 'succeeded', { repo: ['repo', v(ref)] });
    await p.finishedBuild('lint', 'succeeded', { repo: ['repo', v('a')] });
    await p.finishedBuild('lint', 'succeeded', { repo: ['repo', v('b')] });
    await p.finishedBuild('lint', 'errored', { repo: ['repo', v('c')] });
    expect((await resolve(p, 'ship')).versions).toEqual({ repo: v('b') });
  });

  it('inputs sharing passed jobs come from the same builds of those jobs', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}, {name: cfg, type: git}]
jobs:
- {name: a, plan: [{get: repo}, {get: cfg}]}
- {name: b, plan: [{get: repo}, {get: cfg}]}
- {name: c, plan: [{get: repo, passed: [a, b]}, {get: cfg, passed: [a, b]}]}`);
    await p.addVersions('repo', [v('r1'), v('r2')]);
    await p.addVersions('cfg', [v('c1'), v('c2')]);
    const run = (job: string, repo: string, cfg: string) =>
      p.finishedBuild(job, 'succeeded', { repo: ['repo', v(repo)], cfg: ['cfg', v(cfg)] });
    await run('a', 'r1', 'c1');
    const a2 = await run('a', 'r2', 'c1');
    await run('a', 'r2', 'c2');
    await run('b', 'r1', 'c1');
    const b2 = await run('b', 'r2', 'c1');
    await run('b', 'r1', 'c2');
    // r2 and c2 each went through a and b, but never together through b: the newest pair that did is (r2, c1).
    const result = await resolve(p, 'c');
    expect(result.versions).toEqual({ repo: v('r2'), cfg: v('c1') });
    expect(new Set(result.computed.entries.flatMap((e) => e.passedBuildIds))).toEqual(new Set([a2, b2]));
  });

  it('inputs with unrelated passed jobs are resolved independently', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}, {name: cfg, type: git}]
jobs:
- {name: a, plan: [{get: repo}, {get: cfg}]}
- {name: b, plan: [{get: repo}, {get: cfg}]}
- {name: c, plan: [{get: repo, passed: [a]}, {get: cfg, passed: [b]}]}`);
    await p.addVersions('repo', [v('r1'), v('r2')]);
    await p.addVersions('cfg', [v('c1'), v('c2')]);
    await p.finishedBuild('a', 'succeeded', { repo: ['repo', v('r2')], cfg: ['cfg', v('c1')] });
    await p.finishedBuild('b', 'succeeded', { repo: ['repo', v('r1')], cfg: ['cfg', v('c2')] });
    expect((await resolve(p, 'c')).versions).toEqual({ repo: v('r2'), cfg: v('c2') });
  });

  it('every with passed: each upstream build in turn after the one last used', async () => {
    const p = await setPipeline(`
resources: [{name: repo, type: git}]
jobs:
- {name: unit, plan: [{get: repo}]}
- {name: deploy, plan: [{get: repo, passed: [unit], version: every}]}`);
    await p.addVersions('repo', [v('a'), v('b'), v('c')]);
    const builds: number[] = [];
    for (const ref of ['a', 'b', 'c'])
      builds.push(await p.finishedBuild('unit', 'succeeded', { repo: ['repo', v(ref)] }));
    // Never deployed: the newest.
    expect(await resolve(p, 'deploy')).toMatchObject({ versions: { repo: v('c') }, hasNext: false });
    // Deployed a (from unit's first build): next is b, and c is still to come.
    const deployed = await p.finishedBuild('deploy', 'succeeded', { repo: ['repo', v('a')] });
    await database.db
      .insertInto('build_pipes')
      .values({ from_build_id: builds[0]!, to_build_id: deployed })
      .execute();
    expect(await resolve(p, 'deploy')).toMatchObject({ versions: { repo: v('b') }, hasNext: true });
  });

  it('groups inputs whose passed jobs overlap, transitively', () => {
    const input = (name: string, passed: number[]) => ({
      name,
      jobId: 9,
      resourceId: 1,
      scopeId: 1,
      passed,
      trigger: false,
      useEvery: false,
      pinnedVersion: null,
    });
    const groups = groupByPassedJobs([input('w', [1]), input('x', [2]), input('y', [3]), input('z', [1, 2])]);
    expect(groups.map((group) => group.map((i) => i.name))).toEqual([['y'], ['w', 'x', 'z']]);
  });
});
