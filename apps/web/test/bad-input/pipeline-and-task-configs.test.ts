import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import {
  createBuild,
  executePlan,
  readBuildEvents,
  statusesOf,
  type TaskConfigJson,
} from '../execute-client.js';
import { describeLogLine, startBadInputServer, type BadInputServer } from './bad-input-server.js';

/**
 * Pipeline configs (`fly set-pipeline`: PUT …/config as YAML or JSON) and task configs (`fly execute`: a
 * one-off build's plan) that are wrong in every way fast-check can think of, plus a corpus of known parser
 * attacks (alias bombs, deep nesting, odd tags, duplicate keys). Each is refused with a 4xx or accepted;
 * never a 5xx, never a hang. An accepted pipeline must read back (config, jobs, resources) without a 5xx; an
 * accepted one-off build must reach a final status.
 */
let s: BadInputServer;
let counter = 0;

beforeAll(async () => {
  s = await startBadInputServer();
}, 120_000);

afterAll(async () => {
  await s?.destroy();
});

async function savePipeline(body: string, contentType = 'application/x-yaml') {
  const name = `fuzz-${counter++}`;
  const started = Date.now();
  const answer = await s.send('PUT', `/api/v1/teams/main/pipelines/${name}/config`, {
    token: s.admin,
    headers: { 'content-type': contentType, 'x-concourse-config-version': '' },
    body,
    timeoutMs: 60_000,
  });
  return { name, answer, ms: Date.now() - started };
}

/** After an accepted config: what fly and the UI read next answers without a 5xx. */
async function readBack(name: string): Promise<string[]> {
  const problems: string[] = [];
  for (const suffix of ['', '/config', '/jobs', '/resources', '/resource-types', '/versions-db', '/badge']) {
    const answer = await s.send('GET', `/api/v1/teams/main/pipelines/${name}${suffix}`, { token: s.admin });
    if (answer.status >= 500) problems.push(`GET …/${name}${suffix} → ${answer.status}`);
  }
  return problems;
}

const hostile = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '..',
    '../x',
    '/abs',
    'a/b',
    '-1',
    '1e400',
    'never',
    '0s',
    '-5m',
    '((var))',
    '((a:b.c))',
    '🙂',
    'x'.repeat(2000),
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const anything = fc.oneof(hostile, fc.jsonValue({ maxDepth: 3 }));
const maybe = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: anything });

const stepArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  step: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record(
      {
        get: maybe(fc.constantFrom('r', 'missing')),
        passed: maybe(fc.array(hostile, { maxLength: 2 })),
        trigger: maybe(fc.boolean()),
        version: maybe(fc.constantFrom('every', 'latest')),
      },
      { requiredKeys: ['get'] },
    ),
    fc.record(
      { put: maybe(fc.constantFrom('r')), params: anything, inputs: maybe(fc.constantFrom('all', 'detect')) },
      { requiredKeys: ['put'] },
    ),
    fc.record(
      {
        task: maybe(fc.constant('t')),
        config: anything,
        file: maybe(fc.constant('r/task.yml')),
        privileged: anything,
        image: anything,
      },
      { requiredKeys: ['task'] },
    ),
    fc.record({ in_parallel: maybe(fc.array(tie('step'), { maxLength: 2 })) }),
    fc.record({ do: maybe(fc.array(tie('step'), { maxLength: 2 })) }),
    fc.record({ try: tie('step') }),
    fc.record({ set_pipeline: maybe(fc.constantFrom('self', 'other')), file: anything }),
    fc.record({ load_var: maybe(fc.constant('v')), file: anything }),
    fc.record({
      task: fc.constant('t'),
      across: maybe(fc.array(fc.record({ var: hostile, values: anything }), { maxLength: 2 })),
    }),
    anything,
  ),
})).step;

const pipelineArb = fc.record(
  {
    resources: maybe(
      fc.array(
        fc.record({
          name: maybe(fc.constantFrom('r', 'r2')),
          type: maybe(fc.constantFrom('mock', 'time', 'git', 'nope')),
          source: anything,
          check_every: anything,
          webhook_token: anything,
          version: anything,
        }),
        { maxLength: 3 },
      ),
    ),
    resource_types: maybe(
      fc.array(fc.record({ name: hostile, type: hostile, source: anything }), { maxLength: 2 }),
    ),
    jobs: maybe(
      fc.array(
        fc.record({
          name: maybe(fc.constantFrom('j', 'k')),
          plan: maybe(fc.array(stepArb, { maxLength: 3 })),
          serial_groups: anything,
          max_in_flight: anything,
          build_log_retention: anything,
          on_failure: stepArb,
          ensure: stepArb,
          public: anything,
        }),
        { maxLength: 3 },
      ),
    ),
    groups: maybe(fc.array(fc.record({ name: hostile, jobs: anything }), { maxLength: 2 })),
    var_sources: maybe(
      fc.array(fc.record({ name: hostile, type: hostile, config: anything }), { maxLength: 2 }),
    ),
    display: anything,
  },
  { requiredKeys: [] },
);

/** Known parser attacks: each alone in a request. */
const YAML_CORPUS: Array<[string, string]> = [
  [
    'billion laughs',
    [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      'jobs: *i',
    ].join('\n'),
  ],
  ['a self-referencing alias', 'jobs: &x [*x]'],
  ['deep flow nesting', `jobs: ${'['.repeat(20_000)}${']'.repeat(20_000)}`],
  ['deep block nesting', Array.from({ length: 3000 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')],
  ['a !!js/function tag', 'jobs: !!js/function "function () { process.exit(1) }"'],
  ['custom and binary tags', 'jobs: [!!binary aGVsbG8=, !foo bar, !!timestamp 2001-12-14]'],
  ['duplicate keys', 'jobs: []\njobs: [{name: a}]'],
  ['merge keys', 'base: &b {name: j, plan: []}\njobs: [{<<: *b}, {<<: [*b, *b], name: k}]'],
  ['several documents', 'jobs: []\n---\njobs: [{name: x}]'],
  ['a NUL byte', 'jobs: [{name: "a\u0000b", plan: []}]'],
  ['a BOM and tabs', '\uFEFFjobs:\n\t- name: a'],
  ['a 5 MB string', `jobs: [{name: "${'x'.repeat(5_000_000)}", plan: []}]`],
  [
    'a huge number of jobs',
    `jobs:\n${Array.from({ length: 5_000 }, (_, i) => `- {name: j${i}, plan: []}`).join('\n')}`,
  ],
  ['a number too big', 'jobs: [{name: j, max_in_flight: 1e999, plan: []}]'],
  ['an empty document', ''],
  ['only a comment', '# nothing'],
  ['not a map', '- just\n- a list'],
  ['a scalar', '"jobs"'],
  ['invalid UTF-8', Buffer.from([0x6a, 0x6f, 0x62, 0x73, 0x3a, 0x20, 0xff, 0xfe, 0xc3]).toString('latin1')],
];

describe('pipeline configs', () => {
  it.each(YAML_CORPUS)('%s: a 4xx or accepted, in under 30 s, never a 5xx', async (_name, yaml) => {
    const { name, answer, ms } = await savePipeline(yaml);
    expect(answer.status).toBeLessThan(500);
    // A hang would be a denial of service; the bound leaves room for a loaded CI machine.
    expect(ms).toBeLessThan(30_000);
    if (answer.status < 300) expect(await readBack(name)).toEqual([]);
    expect(await s.alive()).toBe(true);
  });

  it('random configs (fast-check), as YAML and as JSON: never a 5xx, accepted ones read back', async () => {
    await fc.assert(
      fc.asyncProperty(pipelineArb, fc.boolean(), async (config, asJson) => {
        const body = asJson ? JSON.stringify(config) : toYaml(config);
        const { name, answer } = await savePipeline(body, asJson ? 'application/json' : 'application/x-yaml');
        if (answer.status >= 500) throw new Error(`${answer.status}: ${answer.body.slice(0, 300)}`);
        if (answer.status < 300) {
          const problems = await readBack(name);
          if (problems.length > 0) throw new Error(problems.join('; '));
        }
        return true;
      }),
      { numRuns: Number(process.env.JETBRIDGE_FUZZ_RUNS ?? 200) },
    );
  }, 600_000);
});

describe('task configs of one-off builds', () => {
  const configArb = fc.record(
    {
      platform: maybe(fc.constant('linux')),
      run: maybe(
        fc.record({
          path: maybe(fc.constantFrom('echo', 'true', 'false', './missing', '')),
          args: maybe(fc.array(hostile, { maxLength: 3 })),
          dir: maybe(fc.constantFrom('.', 'sub', '../..', '/')),
          user: anything,
        }),
      ),
      inputs: maybe(
        fc.array(fc.record({ name: hostile, path: hostile, optional: anything }), { maxLength: 2 }),
      ),
      outputs: maybe(fc.array(fc.record({ name: hostile, path: hostile }), { maxLength: 2 })),
      caches: maybe(fc.array(fc.record({ path: hostile }), { maxLength: 2 })),
      params: maybe(fc.dictionary(fc.string({ maxLength: 10 }), anything, { maxKeys: 3 })),
      image_resource: anything,
      container_limits: maybe(fc.record({ cpu: anything, memory: anything })),
      rootfs_uri: anything,
    },
    { requiredKeys: [] },
  );

  it('random configs (fast-check): never a 5xx; an accepted build reaches a final status', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, async (config) => {
        const response = await createBuild(
          s.ts.url,
          s.admin,
          'main',
          executePlan(config as unknown as TaskConfigJson, [], []),
        );
        if (response.status >= 500)
          throw new Error(`${response.status}: ${(await response.text()).slice(0, 300)}`);
        if (response.status !== 201) {
          await response.body?.cancel();
          return true;
        }
        const { id } = (await response.json()) as { id: number };
        const { events } = await readBuildEvents(s.ts.url, s.admin, id);
        const final = statusesOf(events).at(-1);
        if (!final || final === 'started') throw new Error(`build ${id} never finished`);
        return true;
      }),
      { numRuns: Number(process.env.JETBRIDGE_FUZZ_RUNS ?? 100) },
    );
  }, 600_000);

  it('wrote no error-level log line', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});
