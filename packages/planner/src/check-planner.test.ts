import { describe, expect, it } from '@jest/globals';
import { parsePipelineConfig, type PipelineConfig } from '@jetbridge/pipeline-config';
import { checkInterval, planResourceCheck, type CheckPlanRequest } from './check-planner.js';
import { PlanIdFactory } from './plan-ids.js';

const CONFIG = `
resources:
- name: repo
  type: git
  source: {uri: https://example.com/repo.git}
  check_every: 90s
  check_timeout: 5m
  tags: [internal]
- name: never
  type: time
  source: {interval: 1m}
  check_every: never
- name: custom
  type: my-type
  source: {branch: main}
resource_types:
- name: my-type
  type: registry-image
  source: {repository: example/my-type}
  defaults: {depth: 1}
  check_every: 10m
jobs:
- name: j
  plan: [{get: repo}]
`;

const pipeline: PipelineConfig = (() => {
  const parsed = parsePipelineConfig(CONFIG);
  if (parsed.errors) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
})();

function check(name: string, request: Partial<CheckPlanRequest> = {}) {
  const resource = pipeline.resources?.find((r) => r.name === name);
  if (resource === undefined) throw new Error(name);
  return planResourceCheck({
    resource,
    resourceTypes: pipeline.resource_types ?? [],
    planIds: new PlanIdFactory(0),
    ...request,
  });
}

describe('planResourceCheck', () => {
  it.each<[string, string, Partial<CheckPlanRequest>, unknown]>([
    [
      'a periodic check: interval, timeout and tags from the resource',
      'repo',
      {},
      {
        id: '1',
        check: {
          name: 'repo',
          type: 'git',
          source: { uri: 'https://example.com/repo.git' },
          image: { base_type: 'git' },
          resource: 'repo',
          interval: '1m30s',
          timeout: '5m',
          tags: ['internal'],
        },
      },
    ],
    [
      'a manual check from a version',
      'never',
      { fromVersion: { time: 'x' }, skipInterval: true },
      {
        id: '1',
        check: {
          name: 'never',
          type: 'time',
          source: { interval: '1m' },
          image: { base_type: 'time' },
          from_version: { time: 'x' },
          resource: 'never',
          interval: 'never',
          skip_interval: true,
        },
      },
    ],
  ])('%s', (_title, name, request, expected) => {
    expect(check(name, request)).toEqual(expected);
  });

  it('merges type defaults and re-checks the type image only for deep manual checks', () => {
    const shallow = check('custom', { skipInterval: true, defaultInterval: '30s' });
    expect(shallow).toMatchObject({
      check: {
        source: { branch: 'main', depth: 1 },
        interval: '30s',
        skip_interval: true,
        image: {
          base_type: 'registry-image',
          check_plan: { id: '1/image-check', check: { interval: '10m0s', resource_type: 'my-type' } },
          get_plan: { id: '1/image-get', get: { version_from: '1/image-check' } },
        },
      },
    });
    const shallowImageCheck = shallow as unknown as {
      check: { image: { check_plan: { check: Record<string, unknown> } } };
    };
    expect(shallowImageCheck.check.image.check_plan.check).not.toHaveProperty('skip_interval');
    const deep = check('custom', { skipInterval: true, skipIntervalRecursively: true });
    expect(deep).toMatchObject({
      check: { image: { check_plan: { check: { skip_interval: true } } } },
    });
  });

  it('encodes intervals as Go durations', () => {
    expect(checkInterval(undefined, undefined)).toBe('1m0s');
    expect(checkInterval('', '2m')).toBe('2m0s');
    expect(checkInterval('never', '2m')).toBe('never');
    expect(checkInterval('1h', undefined)).toBe('1h0m0s');
  });
});
