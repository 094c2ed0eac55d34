import { describe, expect, it } from '@jest/globals';
import type { Job, Pipeline } from '../api/types.js';
import { layoutGraph } from './graph-layout.js';
import { jobColumns, jobsInGroups, pipelineGraph, selectedGroups } from './pipeline-graph.js';
import { pipelineStatus } from './pipeline-status.js';

function job(
  name: string,
  inputs: Job['inputs'] = [],
  outputs: Job['outputs'] = [],
  extra: Partial<Job> = {},
): Job {
  return {
    id: name.length,
    name,
    team_name: 'main',
    pipeline_id: 1,
    pipeline_name: 'p',
    inputs,
    outputs,
    ...extra,
  };
}

const JOBS: Job[] = [
  job('unit', [{ name: 'repo', resource: 'repo', trigger: true }]),
  job(
    'build',
    [
      { name: 'repo', resource: 'repo', trigger: true, passed: ['unit'] },
      { name: 'version', resource: 'version', trigger: false },
    ],
    [{ name: 'version', resource: 'version' }],
  ),
  job('deploy', [{ name: 'repo', resource: 'repo', trigger: true, passed: ['build'] }]),
];

describe('pipelineGraph', () => {
  it('draws gets as resource→job, passed as job→job, puts as job→resource (no cycles)', () => {
    const graph = pipelineGraph(JOBS, []);
    expect(graph.nodes.map((n) => n.id).sort()).toEqual([
      'in:repo',
      'in:version',
      'job:build',
      'job:deploy',
      'job:unit',
      'out:build:version',
    ]);
    expect(graph.edges).toEqual([
      { from: 'in:repo', to: 'job:unit', trigger: true },
      { from: 'job:unit', to: 'job:build', trigger: true },
      { from: 'in:version', to: 'job:build', trigger: false },
      { from: 'job:build', to: 'out:build:version', trigger: true },
      { from: 'job:build', to: 'job:deploy', trigger: true },
    ]);
  });

  it('lays jobs out left to right, upstream first', () => {
    const layout = layoutGraph(pipelineGraph(JOBS, []));
    const x = (id: string) => layout.nodes.find((n) => n.id === id)?.x ?? NaN;
    expect(x('in:repo')).toBeLessThan(x('job:unit'));
    expect(x('job:unit')).toBeLessThan(x('job:build'));
    expect(x('job:build')).toBeLessThan(x('job:deploy'));
    expect(layout.width).toBeGreaterThan(0);
    expect(layout.edges.every((e) => e.points.length >= 2)).toBe(true);
  });

  it('puts a resource in place of an upstream job hidden by the group', () => {
    const graph = pipelineGraph(JOBS.slice(1), []);
    expect(graph.edges).toContainEqual({ from: 'in:repo', to: 'job:build', trigger: true });
  });

  it('selects groups (the first by default) and their jobs, globs included', () => {
    const pipeline: Pipeline = {
      id: 1,
      name: 'p',
      team_name: 'main',
      paused: false,
      public: true,
      archived: false,
      groups: [
        { name: 'test', jobs: ['unit'] },
        { name: 'ship', jobs: ['b*', 'deploy'] },
      ],
    };
    expect(selectedGroups(pipeline, []).map((g) => g.name)).toEqual(['test']);
    expect(selectedGroups(pipeline, ['ship', 'nope']).map((g) => g.name)).toEqual(['ship']);
    expect(jobsInGroups(JOBS, selectedGroups(pipeline, ['ship'])).map((j) => j.name)).toEqual([
      'build',
      'deploy',
    ]);
    expect(jobsInGroups(JOBS, []).length).toBe(3);
  });

  it('stacks the dashboard preview in columns of passed depth', () => {
    expect(jobColumns(JOBS).map((c) => c.map((j) => j.name))).toEqual([['unit'], ['build'], ['deploy']]);
  });

  it('derives the pipeline status from its jobs', () => {
    const p: Pipeline = {
      id: 1,
      name: 'p',
      team_name: 'main',
      paused: false,
      public: false,
      archived: false,
    };
    const b = (status: 'succeeded' | 'failed' | 'errored') => ({
      id: 1,
      name: '1',
      team_name: 'main',
      status,
    });
    expect(
      pipelineStatus(p, [
        job('a', [], [], { finished_build: b('succeeded') }),
        job('b', [], [], { finished_build: b('errored') }),
      ]),
    ).toEqual({ status: 'errored', running: false });
    expect(
      pipelineStatus(p, [
        job('a', [], [], { finished_build: b('failed'), paused: true }),
        job('b', [], [], { next_build: { ...b('succeeded'), status: 'started' } }),
      ]),
    ).toEqual({ status: 'pending', running: true });
    expect(pipelineStatus({ ...p, paused: true }, [])).toEqual({ status: 'paused', running: false });
    expect(pipelineStatus({ ...p, archived: true, paused: true }, [])).toEqual({
      status: 'archived',
      running: false,
    });
  });
});
