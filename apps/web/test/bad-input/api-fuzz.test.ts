import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createBuild, executePlan, readBuildEvents } from '../execute-client.js';
import { setPipeline } from '../pipeline-client.js';
import { describeLogLine, fillPath, startBadInputServer, type BadInputServer } from './bad-input-server.js';

/**
 * Every registered route (read from the app, so new routes are fuzzed the day they land) with hostile path
 * parameters, query parameters, bodies and content types, as a logged-in owner (so requests reach the
 * handlers, not just the access check) and as an outsider. The property: never a 5xx, and the server keeps
 * answering. fast-check shrinks a failure to the smallest request that shows it.
 */
let s: BadInputServer;
let buildId: number;
/** With JETBRIDGE_FUZZ_SURVEY set, every 5xx is collected (one line per route) instead of stopping at the first. */
const survey = new Set<string>();

const PIPELINE_YAML = `
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
`;

beforeAll(async () => {
  s = await startBadInputServer();
  await setPipeline(s.ts.url, s.admin, 'main', 'fuzz', PIPELINE_YAML);
  const plan = executePlan({ platform: 'linux', run: { path: 'echo', args: ['fuzz'] } }, [], []);
  const created = await createBuild(s.ts.url, s.admin, 'main', plan);
  buildId = ((await created.json()) as { id: number }).id;
  await readBuildEvents(s.ts.url, s.admin, buildId);
}, 120_000);

afterAll(async () => {
  await s?.destroy();
});

/** Strings that have broken parsers before: traversal, NUL, huge and odd numbers, unicode, long names. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '..',
    '.',
    '%00',
    '\u0000',
    '-1',
    '0',
    '1.5',
    '1e309',
    '99999999999999999999',
    '9223372036854775808',
    'NaN',
    'Infinity',
    ' ',
    '../../../etc/passwd',
    '🙂',
    'a'.repeat(300),
    '{"a":',
    '[]',
    'null',
    'true',
  ),
  fc.integer().map(String),
);

/** A real value for a parameter (so the handler runs past its lookups), or a hostile one. */
function paramArb(name: string) {
  const real: Record<string, string[]> = {
    team_name: ['main', 'team-b'],
    pipeline_name: ['fuzz'],
    job_name: ['unit'],
    resource_name: ['source'],
    build_id: [], // filled once the build exists
    build_name: ['1'],
  };
  const values = name === 'build_id' ? [String(buildId)] : (real[name] ?? ['1']);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...values) },
    { weight: 1, arbitrary: hostileString },
  );
}

const QUERY_KEYS = [
  'limit',
  'since',
  'until',
  'from',
  'to',
  'vars',
  'instance_vars',
  'filter',
  'search',
  'timestamps',
  'archived',
  'team_name',
  'pipeline_name',
  'fields',
  'page',
  'count',
];

/** Paging bounds as numbers, so reversed and out-of-range ranges come up (they once gave 500s). */
const pagingArb = fc.record(
  {
    from: fc.oneof(fc.integer(), fc.bigInt().map(String)).map(String),
    to: fc.oneof(fc.integer(), fc.bigInt().map(String)).map(String),
    limit: fc.integer().map(String),
    timestamps: fc.constant('true'),
  },
  { requiredKeys: [] },
);

const queryArb = fc
  .oneof(
    fc.dictionary(fc.constantFrom(...QUERY_KEYS), fc.oneof(hostileString, fc.json({ maxDepth: 2 })), {
      maxKeys: 3,
    }),
    pagingArb,
  )
  .map((query) => new URLSearchParams(query as Record<string, string>).toString());

const bodyArb = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '{',
    '[',
    '{"__proto__": {"admin": true}}',
    '{"constructor": {"prototype": {"x": 1}}}',
    '{"plan": null}',
    '{"auth": {"owner": {"users": "x"}}}',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    'a: &a [*a]',
    '- - - - - -',
    '\u0000\u0001\u0002',
  ),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);

const contentTypeArb = fc.constantFrom(
  undefined,
  'application/json',
  'application/x-yaml',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'application/gzip',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
);

/** Changing the auth of the fixture teams or deleting them would only blind the rest of the run. */
function fixtureSafe(method: string, url: string, params: Record<string, string>): boolean {
  if (url === '/api/v1/teams/:team_name' && (method === 'PUT' || method === 'DELETE'))
    return params.team_name !== 'main' && params.team_name !== 'team-b';
  if (url.endsWith('/rename')) return params.team_name !== 'main' && params.team_name !== 'team-b';
  return true;
}

describe('every route, hostile input', () => {
  it('never answers 5xx, for an owner or an outsider', async () => {
    const routes = s.routes.filter((route) => route.method !== 'HEAD' && route.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(50);
    const routeArb = fc.constantFrom(...routes).chain((route) => {
      const names = route.url
        .split('/')
        .filter((segment) => segment.startsWith(':') || segment === '*')
        .map((segment) => (segment === '*' ? '*' : segment.slice(1)));
      const paramsArb = fc.record(Object.fromEntries(names.map((name) => [name, paramArb(name)])));
      return fc.record({
        route: fc.constant(route),
        params: paramsArb as fc.Arbitrary<Record<string, string>>,
      });
    });
    await fc.assert(
      fc.asyncProperty(
        routeArb,
        queryArb,
        bodyArb,
        contentTypeArb,
        fc.constantFrom('admin', 'alice', 'none'),
        async ({ route, params }, query, body, contentType, who) => {
          if (!fixtureSafe(route.method, route.url, params)) return true;
          const path = fillPath(route.url, (name) => params[name] ?? '1') + (query ? `?${query}` : '');
          const token = who === 'admin' ? s.admin : who === 'alice' ? s.alice : undefined;
          const answer = await s.send(route.method, path, {
            ...(token ? { token } : {}),
            headers: contentType ? { 'content-type': contentType } : {},
            ...(body !== undefined ? { body } : {}),
          });
          if (answer.status >= 500 && process.env.JETBRIDGE_FUZZ_SURVEY) {
            survey.add(
              `${route.method} ${route.url} → ${answer.status} (${who}) e.g. ${path} ${JSON.stringify(body)?.slice(0, 80)}`,
            );
            return true;
          }
          if (answer.status >= 500) {
            throw new Error(
              `${route.method} ${path} (${who}) → ${answer.status}: ${answer.body.slice(0, 300)}`,
            );
          }
          return true;
        },
      ),
      { numRuns: Number(process.env.JETBRIDGE_FUZZ_RUNS ?? 600), seed: seedFromEnv() },
    );
    expect(await s.alive()).toBe(true);
    expect([...survey]).toEqual([]);
  }, 600_000);

  it('wrote no error-level log line while doing so (errors are the server’s own failures)', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});

/** JETBRIDGE_FUZZ_SEED replays a reported run; otherwise fast-check picks (and prints on failure) a seed. */
function seedFromEnv(): number | undefined {
  const seed = process.env.JETBRIDGE_FUZZ_SEED;
  return seed === undefined ? undefined : Number(seed);
}
