import { describe, expect, it } from '@jest/globals';
import type { Job, Pipeline } from '../api/types.js';
import { filterPipelines, fuzzyMatch, parseSearch, teamPasses } from './dashboard-filter.js';

function pipeline(id: number, name: string, team: string, extra: Partial<Pipeline> = {}): Pipeline {
  return { id, name, team_name: team, paused: false, public: false, archived: false, ...extra };
}

function job(pipelineId: number, name: string, extra: Partial<Job> = {}): Job {
  return {
    id: pipelineId * 100 + name.length,
    name,
    team_name: 'main',
    pipeline_id: pipelineId,
    pipeline_name: 'p',
    ...extra,
  };
}

const build = (status: 'succeeded' | 'failed' | 'errored' | 'aborted' | 'started' | 'pending') => ({
  id: 1,
  team_name: 'main',
  name: '1',
  status,
});

describe('parseSearch', () => {
  it('reads team, status and name terms, with negation', () => {
    expect(parseSearch('team:main status:failed -status:paused web -team:other')).toEqual([
      { kind: 'team', value: 'main', negate: false },
      { kind: 'status', value: 'failed', negate: false },
      { kind: 'status', value: 'paused', negate: true },
      { kind: 'name', value: 'web', negate: false },
      { kind: 'team', value: 'other', negate: true },
    ]);
  });

  it('allows a space after the colon, and treats unknown statuses and a lone dash as names', () => {
    expect(parseSearch('team: main  status:bogus -')).toEqual([
      { kind: 'team', value: 'main', negate: false },
      { kind: 'name', value: 'status:bogus', negate: false },
      { kind: 'name', value: '-', negate: false },
    ]);
    expect(parseSearch('   ')).toEqual([]);
  });
});

describe('fuzzyMatch', () => {
  it('matches letters in order, ignoring case', () => {
    expect(fuzzyMatch('cnc', 'Concourse')).toBe(true);
    expect(fuzzyMatch('', 'anything')).toBe(true);
    expect(fuzzyMatch('ccn', 'Concourse')).toBe(false);
  });
});

describe('filterPipelines', () => {
  const pipelines = [
    pipeline(1, 'web-app', 'main'),
    pipeline(2, 'api', 'main', { paused: true }),
    pipeline(3, 'website', 'docs'),
    pipeline(4, 'deploy', 'ops'),
  ];
  const jobs = new Map<number, Job[]>([
    [
      1,
      [
        job(1, 'unit', { finished_build: build('failed') }),
        job(1, 'lint', { finished_build: build('succeeded') }),
      ],
    ],
    [2, [job(2, 'build', { finished_build: build('succeeded') })]],
    [3, [job(3, 'publish', { finished_build: build('succeeded'), next_build: build('started') })]],
    [4, [job(4, 'ship')]],
  ]);
  const names = (query: string) =>
    filterPipelines(parseSearch(query), pipelines, (p) => jobs.get(p.id) ?? []).map((p) => p.name);

  it('filters by fuzzy name and team', () => {
    expect(names('web')).toEqual(['web-app', 'website']);
    expect(names('team:main')).toEqual(['web-app', 'api']);
    expect(names('-team:main')).toEqual(['website', 'deploy']);
    expect(names('team:main web')).toEqual(['web-app']);
  });

  it('filters by pipeline status, the way the dashboard colours cards', () => {
    expect(names('status:failed')).toEqual(['web-app']);
    expect(names('status:paused')).toEqual(['api']);
    expect(names('status:succeeded')).toEqual(['website']);
    expect(names('status:running')).toEqual(['website']);
    expect(names('status:pending')).toEqual(['deploy']);
    expect(names('-status:succeeded -status:pending')).toEqual(['web-app', 'api']);
  });

  it('keeps a team group when the team terms let it through', () => {
    const terms = parseSearch('team:ma -team:docs');
    expect(teamPasses(terms, 'main')).toBe(true);
    expect(teamPasses(terms, 'docs')).toBe(false);
  });
});
