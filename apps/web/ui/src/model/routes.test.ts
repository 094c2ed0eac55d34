import { describe, expect, it } from '@jest/globals';
import { parseLinkHeader, pageQuery } from './pagination.js';
import { buildPath, instanceVarsQuery, parseRoute } from './routes.js';

describe('parseRoute', () => {
  it("knows Concourse's paths", () => {
    expect(parseRoute('/')).toEqual({ name: 'dashboard' });
    expect(parseRoute('/builds')).toEqual({ name: 'builds' });
    expect(parseRoute('/builds/42')).toEqual({ name: 'build', id: 42 });
    expect(parseRoute('/teams/main/pipelines/my%20p')).toEqual({
      name: 'pipeline',
      team: 'main',
      pipeline: 'my p',
    });
    expect(parseRoute('/teams/main/pipelines/p/jobs/unit')).toEqual({
      name: 'job',
      team: 'main',
      pipeline: 'p',
      job: 'unit',
    });
    expect(parseRoute('/teams/main/pipelines/p/jobs/unit/builds/3.1')).toEqual({
      name: 'job-build',
      team: 'main',
      pipeline: 'p',
      job: 'unit',
      build: '3.1',
    });
    expect(parseRoute('/teams/main/pipelines/p/resources/repo/')).toEqual({
      name: 'resource',
      team: 'main',
      pipeline: 'p',
      resource: 'repo',
    });
    expect(parseRoute('/login')).toEqual({ name: 'login' });
  });

  it('sends anything else to not-found', () => {
    expect(parseRoute('/builds/abc').name).toBe('not-found');
    expect(parseRoute('/teams/main').name).toBe('not-found');
    expect(parseRoute('/teams//pipelines/p').name).toBe('not-found');
    expect(parseRoute('/teams/main/pipelines/%E0%A4%A').name).toBe('not-found');
  });

  it('links builds where they live', () => {
    expect(buildPath({ id: 9, name: '4', team_name: 'main' })).toBe('/builds/9');
    expect(buildPath({ id: 9, name: '4', team_name: 'main', pipeline_name: 'p', job_name: 'j j' })).toBe(
      '/teams/main/pipelines/p/jobs/j%20j/builds/4',
    );
  });

  it('passes instance vars on', () => {
    expect(instanceVarsQuery('?vars.branch=%22main%22&group=a&vars=%7B%7D')).toBe(
      '?vars.branch=%22main%22&vars=%7B%7D',
    );
    expect(instanceVarsQuery('?group=a')).toBe('');
  });
});

describe('pagination', () => {
  it("reads the server's Link header", () => {
    const header =
      '<http://ci.example/api/v1/builds?to=3&limit=2>; rel="next", <http://ci.example/api/v1/builds?from=6&limit=2>; rel="previous"';
    expect(parseLinkHeader(header)).toEqual({ next: { to: 3, limit: 2 }, previous: { from: 6, limit: 2 } });
    expect(parseLinkHeader(null)).toEqual({});
    expect(pageQuery({ to: 3, limit: 2 }, 50)).toBe('?to=3&limit=2');
    expect(pageQuery(undefined, 50)).toBe('?limit=50');
  });
});
