import { describe, expect, it } from '@jest/globals';
import { parsePlan } from './parse-plan.js';
import { toPublicPlan } from './public-plan.js';

describe('toPublicPlan', () => {
  it('reduces the fly execute plan, keeping its structure and artifact steps', () => {
    const plan = parsePlan({
      id: '7',
      ensure: {
        step: {
          id: '6',
          do: [
            {
              id: '3',
              in_parallel: { steps: [{ id: '1', artifact_input: { artifact_id: 125, name: 'fixture' } }] },
            },
            {
              id: '4',
              task: {
                name: 'one-off',
                privileged: false,
                hermetic: false,
                config: { platform: 'linux', params: { SECRET: 's3cr3t' }, run: { path: 'sh' } },
              },
            },
          ],
        },
        ensure: { id: '5', in_parallel: { steps: [{ id: '2', artifact_output: { name: 'out' } }] } },
      },
    });
    expect(toPublicPlan(plan)).toEqual({
      id: '7',
      ensure: {
        step: {
          id: '6',
          do: [
            {
              id: '3',
              in_parallel: { steps: [{ id: '1', artifact_input: { artifact_id: 125, name: 'fixture' } }] },
            },
            { id: '4', task: { name: 'one-off', privileged: false, hermetic: false } },
          ],
        },
        ensure: { id: '5', in_parallel: { steps: [{ id: '2', artifact_output: { name: 'out' } }] } },
      },
    });
    expect(JSON.stringify(toPublicPlan(plan))).not.toContain('s3cr3t');
  });

  it('hides sources, params and vars of every step kind', () => {
    const plan = parsePlan({
      id: '1',
      do: [
        {
          id: '2',
          get: {
            name: 'repo',
            type: 'git',
            source: { private_key: 'k' },
            resource: 'repo',
            version: { ref: 'abc' },
            params: { depth: 1 },
            image: {
              check_plan: {
                id: '2/image-check',
                check: { name: 'image', type: 'registry-image', source: { password: 'p' }, image: {} },
              },
              get_plan: {
                id: '2/image-get',
                get: { name: 'image', type: 'registry-image', source: { password: 'p' }, image: {} },
              },
            },
          },
        },
        {
          id: '3',
          put: { name: 'repo', type: 'git', source: { private_key: 'k' }, image: {}, params: { x: 1 } },
        },
        { id: '4', set_pipeline: { name: 'p', file: 'f', vars: { a: 1 } } },
        { id: '5', load_var: { name: 'v', file: 'f', reveal: true } },
        {
          id: '6',
          across: {
            vars: [{ name: 'x', values: ['secret-value'] }],
            substep_template: '{"id":"z"}',
            fail_fast: true,
          },
        },
        {
          id: '7',
          timeout: {
            step: { id: '8', try: { step: { id: '9', retry: [{ id: '10', do: [] }] } } },
            duration: '1m',
          },
        },
        { id: '11', in_parallel: { steps: null, limit: 2, fail_fast: true } },
      ],
    });
    expect(toPublicPlan(plan)).toEqual({
      id: '1',
      do: [
        {
          id: '2',
          get: {
            name: 'repo',
            type: 'git',
            resource: 'repo',
            version: { ref: 'abc' },
            image_check_plan: { id: '2/image-check', check: { name: 'image', type: 'registry-image' } },
            image_get_plan: { id: '2/image-get', get: { name: 'image', type: 'registry-image' } },
          },
        },
        { id: '3', put: { name: 'repo', type: 'git' } },
        { id: '4', set_pipeline: { name: 'p', team: '', instance_vars: null } },
        { id: '5', load_var: { name: 'v' } },
        { id: '6', across: { vars: [{ name: 'x' }], fail_fast: true } },
        {
          id: '7',
          timeout: {
            step: { id: '8', try: { step: { id: '9', retry: [{ id: '10', do: [] }] } } },
            duration: '1m',
          },
        },
        { id: '11', in_parallel: { steps: [], limit: 2, fail_fast: true } },
      ],
    });
  });
});
