import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setPipeline } from '../pipeline-client.js';
import { describeLogLine, startBadInputServer, type BadInputServer } from './bad-input-server.js';

/**
 * Paging parameters (`limit`, `from`, `to`, `timestamps`) of every listing that takes them, with values a
 * random fuzzer rarely combines: reversed ranges, numbers past 64 bits, negative and fractional ones,
 * timestamps past the calendar. Never a 5xx.
 */
let s: BadInputServer;

beforeAll(async () => {
  s = await startBadInputServer();
  await setPipeline(
    s.ts.url,
    s.admin,
    'main',
    'paged',
    'resources: [{name: r, type: mock, check_every: never, source: {}}]\njobs: [{name: j, plan: [{get: r}]}]',
  );
}, 120_000);

afterAll(async () => {
  await s?.destroy();
});

const LISTINGS = [
  '/api/v1/builds',
  '/api/v1/teams/main/builds',
  '/api/v1/teams/main/pipelines/paged/builds',
  '/api/v1/teams/main/pipelines/paged/jobs/j/builds',
  '/api/v1/teams/main/pipelines/paged/resources/r/versions',
];

const QUERIES = [
  'from=5&to=1',
  'from=1&to=5',
  'from=99999999999999999999',
  'to=99999999999999999999',
  'limit=99999999999999999999',
  'limit=-1',
  'limit=0',
  'from=-5',
  'from=1.5',
  'timestamps=true&from=99999999999999&to=1',
  'timestamps=true&from=99999999999999',
  'timestamps=true&to=-99999999999999',
  'timestamps=true&from=5&to=1',
  'from=9223372036854775808',
  'to=-9223372036854775809',
  'limit=2147483648',
  `to=${'4'.repeat(80)}`,
  `from=${'9'.repeat(80)}&to=1`,
];

describe('paging parameters', () => {
  it.each(LISTINGS.map((l) => [l]))('%s: never a 5xx', async (listing) => {
    const failures: string[] = [];
    for (const query of QUERIES) {
      const answer = await s.send('GET', `${listing}?${query}`, { token: s.admin });
      if (answer.status >= 500) failures.push(`?${query} → ${answer.status} ${answer.body.slice(0, 120)}`);
    }
    expect(failures).toEqual([]);
  });

  it('the resources a never-checked resource shares its history with: 404 (it has no scope yet), not 500', async () => {
    const answer = await s.send('GET', '/api/v1/teams/main/pipelines/paged/resources/r/shared', {
      token: s.admin,
    });
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('resource/resource-type r has no scope');
  });

  it('wrote no error-level log line', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});
