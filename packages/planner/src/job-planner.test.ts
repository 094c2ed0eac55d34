import { describe, expect, it } from '@jest/globals';
import { parsePlan, type Plan } from '@jetbridge/plan';
import { parsePipelineConfig, type PipelineConfig } from '@jetbridge/pipeline-config';
import { PlanIdFactory } from './plan-ids.js';
import { planJobBuild, type BuildInputVersion } from './job-planner.js';
import { UnknownResourceError, VersionNotProvidedError } from './planner-errors.js';

const RESOURCES = `
resources:
- name: repo
  type: git
  source: {uri: https://example.com/repo.git}
  tags: [check-only]
- name: image
  type: registry-image
  source: {repository: busybox}
  expose_build_created_by: true
- name: custom
  type: my-type
  source: {branch: main}
resource_types:
- name: my-type
  type: registry-image
  source: {repository: example/my-type}
  defaults: {branch: develop, depth: 1}
  privileged: true
`;

function config(jobsYaml: string): PipelineConfig {
  const parsed = parsePipelineConfig(`${RESOURCES}\njobs:\n${jobsYaml}`);
  if (parsed.errors) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}

/** Plan job `name` (the only job unless given) with ids 1, 2, 3… (hex). */
function plan(
  jobsYaml: string,
  inputs: BuildInputVersion[] = [],
  options: { manuallyTriggered?: boolean } = {},
): Plan {
  const pipeline = config(jobsYaml);
  const job = pipeline.jobs?.[0];
  if (job === undefined) throw new Error('no job');
  return planJobBuild({
    job,
    resources: pipeline.resources ?? [],
    resourceTypes: pipeline.resource_types ?? [],
    inputs,
    planIds: new PlanIdFactory(0),
    ...options,
  });
}

const GIT_SOURCE = { uri: 'https://example.com/repo.git' };
const REPO_V1 = { name: 'repo', version: { ref: 'v1' } };

describe('planJobBuild', () => {
  it.each<[string, string, BuildInputVersion[], unknown]>([
    [
      'a get with the version chosen for it, params, tags and timeout (resource tags are for checks only)',
      `- name: j
  plan:
  - get: repo
    params: {depth: 1}
    timeout: 5m`,
      [REPO_V1],
      {
        id: '2',
        do: [
          {
            id: '1',
            get: {
              name: 'repo',
              type: 'git',
              source: GIT_SOURCE,
              image: { base_type: 'git' },
              version: { ref: 'v1' },
              params: { depth: 1 },
              resource: 'repo',
              timeout: '5m',
            },
          },
        ],
      },
    ],
    [
      'a get under another name than its resource',
      `- name: j
  plan:
  - get: source-code
    resource: repo
    trigger: true
    passed: [other]
- name: other
  plan: [{get: repo}]`,
      [{ name: 'source-code', version: { ref: 'v2' } }],
      {
        id: '2',
        do: [
          {
            id: '1',
            get: {
              name: 'source-code',
              type: 'git',
              source: GIT_SOURCE,
              image: { base_type: 'git' },
              version: { ref: 'v2' },
              resource: 'repo',
            },
          },
        ],
      },
    ],
    [
      'a put followed by the implicit get of the version it made (get_params, inputs, created-by)',
      `- name: j
  plan:
  - put: image
    params: {tag: latest}
    get_params: {skip_download: true}
    inputs: [built]
    tags: [gpu]
    timeout: 1h`,
      [],
      {
        id: '4',
        do: [
          {
            id: '3',
            on_success: {
              step: {
                id: '1',
                put: {
                  name: 'image',
                  type: 'registry-image',
                  source: { repository: 'busybox' },
                  image: { base_type: 'registry-image' },
                  params: { tag: 'latest' },
                  inputs: ['built'],
                  resource: 'image',
                  tags: ['gpu'],
                  timeout: '1h',
                  expose_build_created_by: true,
                },
              },
              on_success: {
                id: '2',
                get: {
                  name: 'image',
                  type: 'registry-image',
                  source: { repository: 'busybox' },
                  image: { base_type: 'registry-image' },
                  version_from: '1',
                  params: { skip_download: true },
                  resource: 'image',
                  tags: ['gpu'],
                  timeout: '1h',
                },
              },
            },
          },
        ],
      },
    ],
    [
      'a put with no_get, under another name',
      `- name: j
  plan:
  - put: push
    resource: image
    no_get: true`,
      [],
      {
        id: '2',
        do: [
          {
            id: '1',
            put: {
              name: 'push',
              type: 'registry-image',
              source: { repository: 'busybox' },
              image: { base_type: 'registry-image' },
              resource: 'image',
              expose_build_created_by: true,
            },
          },
        ],
      },
    ],
    [
      'a task with a file, image artifact, vars, params, mappings and limits',
      `- name: j
  plan:
  - task: unit
    file: repo/ci/unit.yml
    image: image
    privileged: true
    vars: {go: "1.22"}
    params: {VERBOSE: "1"}
    input_mapping: {source: repo}
    output_mapping: {out: built}
    container_limits: {cpu: 512}
    timeout: 30m`,
      [],
      {
        id: '2',
        do: [
          {
            id: '1',
            task: {
              name: 'unit',
              privileged: true,
              hermetic: false,
              config_path: 'repo/ci/unit.yml',
              container_limits: { cpu: 512 },
              image: 'image',
              vars: { go: '1.22' },
              params: { VERBOSE: '1' },
              input_mapping: { source: 'repo' },
              output_mapping: { out: 'built' },
              timeout: '30m',
              resource_types: [
                {
                  name: 'my-type',
                  type: 'registry-image',
                  source: { repository: 'example/my-type' },
                  defaults: { branch: 'develop', depth: 1 },
                  privileged: true,
                },
              ],
            },
          },
        ],
      },
    ],
    [
      'set_pipeline and load_var',
      `- name: j
  plan:
  - set_pipeline: self
    file: repo/ci/pipeline.yml
    vars: {a: 1}
    var_files: [repo/vars.yml]
    instance_vars: {branch: main}
    team: other
  - load_var: version
    file: repo/version
    format: trim
    reveal: true`,
      [],
      {
        id: '3',
        do: [
          {
            id: '1',
            set_pipeline: {
              name: 'self',
              file: 'repo/ci/pipeline.yml',
              team: 'other',
              vars: { a: 1 },
              var_files: ['repo/vars.yml'],
              instance_vars: { branch: 'main' },
            },
          },
          { id: '2', load_var: { name: 'version', file: 'repo/version', format: 'trim', reveal: true } },
        ],
      },
    ],
    [
      'in_parallel with limit and fail_fast, try, and a timeout modifier',
      `- name: j
  plan:
  - in_parallel:
      limit: 2
      fail_fast: true
      steps:
      - try:
          set_pipeline: p
          file: repo/p.yml
      - load_var: v
        file: repo/v
        timeout: 1m`,
      [],
      {
        id: '6',
        do: [
          {
            id: '5',
            in_parallel: {
              steps: [
                { id: '2', try: { step: { id: '1', set_pipeline: { name: 'p', file: 'repo/p.yml' } } } },
                {
                  id: '4',
                  timeout: { duration: '1m', step: { id: '3', load_var: { name: 'v', file: 'repo/v' } } },
                },
              ],
              limit: 2,
              fail_fast: true,
            },
          },
        ],
      },
    ],
    [
      'attempts: one copy of the step per attempt, each with its own ids',
      `- name: j
  plan:
  - load_var: v
    file: repo/v
    attempts: 2`,
      [],
      {
        id: '4',
        do: [
          {
            id: '3',
            retry: [
              { id: '1', load_var: { name: 'v', file: 'repo/v' } },
              { id: '2', load_var: { name: 'v', file: 'repo/v' } },
            ],
          },
        ],
      },
    ],
    [
      'step hooks, innermost first: on_success, on_failure, on_abort, on_error, ensure',
      `- name: j
  plan:
  - load_var: v
    file: repo/v
    on_success: {load_var: s, file: repo/s}
    on_failure: {load_var: f, file: repo/f}
    ensure: {load_var: e, file: repo/e}`,
      [],
      {
        id: '8',
        do: [
          {
            id: '7',
            ensure: {
              step: {
                id: '5',
                on_failure: {
                  step: {
                    id: '3',
                    on_success: {
                      step: { id: '1', load_var: { name: 'v', file: 'repo/v' } },
                      on_success: { id: '2', load_var: { name: 's', file: 'repo/s' } },
                    },
                  },
                  on_failure: { id: '4', load_var: { name: 'f', file: 'repo/f' } },
                },
              },
              ensure: { id: '6', load_var: { name: 'e', file: 'repo/e' } },
            },
          },
        ],
      },
    ],
  ])('%s', (_title, jobsYaml, inputs, expected) => {
    expect(plan(jobsYaml, inputs)).toEqual(expected);
  });

  it('numbers plan ids in hex as Concourse does', () => {
    const steps = Array.from({ length: 12 }, (_, i) => `  - load_var: v${i}\n    file: repo/v`).join('\n');
    const result = plan(`- name: j\n  plan:\n${steps}`);
    expect(result.id).toBe('d');
    expect('do' in result && result.do.map((step) => step.id)).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      'a',
      'b',
      'c',
    ]);
  });

  it('wraps the job plan in its hooks: on_success → on_failure → on_abort → on_error → ensure (outermost)', () => {
    const result = plan(`- name: j
  plan: [{load_var: v, file: repo/v}]
  on_success: {load_var: s, file: repo/s}
  on_failure: {load_var: f, file: repo/f}
  on_abort: {load_var: a, file: repo/a}
  on_error: {load_var: e, file: repo/e}
  ensure: {load_var: en, file: repo/n}`);
    const chain: string[] = [];
    let node: Plan = result;
    for (;;) {
      const [kind] = Object.keys(node).filter((key) => key !== 'id');
      if (kind === undefined || kind === 'do') break;
      chain.push(kind);
      node = (node as unknown as Record<string, { step: Plan }>)[kind]!.step;
    }
    expect(chain).toEqual(['ensure', 'on_error', 'on_abort', 'on_failure', 'on_success']);
  });

  it('makes the sub-plan of an across step its JSON template', () => {
    const result = plan(`- name: j
  plan:
  - across:
    - var: pkg
      values: [a, b]
      max_in_flight: all
    - var: go
      values: ((.:versions))
    fail_fast: true
    load_var: v-((.:pkg))
    file: repo/((.:go))`);
    expect(result).toEqual({
      id: '3',
      do: [
        {
          id: '2',
          across: {
            vars: [
              { name: 'pkg', values: ['a', 'b'], max_in_flight: 'all' },
              { name: 'go', values: '((.:versions))' },
            ],
            substep_template: JSON.stringify({
              id: '1',
              load_var: { name: 'v-((.:pkg))', file: 'repo/((.:go))' },
            }),
            fail_fast: true,
          },
        },
      ],
    });
  });

  it('merges a custom type’s defaults under the source and plans the type image', () => {
    const result = plan(
      `- name: j
  plan:
  - get: custom
    tags: [t]`,
      [{ name: 'custom', version: { v: '1' } }],
      { manuallyTriggered: true },
    );
    const get = 'do' in result ? result.do[0] : undefined;
    expect(get).toEqual({
      id: '1',
      get: {
        name: 'custom',
        type: 'my-type',
        source: { branch: 'main', depth: 1 },
        image: {
          check_plan: {
            id: '1/image-check',
            check: {
              name: 'my-type',
              type: 'registry-image',
              source: { repository: 'example/my-type' },
              image: { base_type: 'registry-image' },
              interval: '1m0s',
              tags: ['t'],
              resource_type: 'my-type',
            },
          },
          get_plan: {
            id: '1/image-get',
            get: {
              name: 'my-type',
              type: 'registry-image',
              source: { repository: 'example/my-type' },
              image: { base_type: 'registry-image' },
              version_from: '1/image-check',
              tags: ['t'],
            },
          },
          base_type: 'registry-image',
          privileged: true,
        },
        version: { v: '1' },
        resource: 'custom',
        tags: ['t'],
      },
    });
  });

  it('inherits tags from the job, do and in_parallel unless the step has its own [HEAD]', () => {
    const pipeline = config(`- name: j
  tags: [job]
  plan:
  - load_var: v
    file: repo/v
  - task: a
    file: repo/a.yml
  - do:
    - task: b
      file: repo/b.yml
    - task: c
      file: repo/c.yml
      tags: [own]
    tags: [do]`);
    const result = planJobBuild({
      job: pipeline.jobs![0]!,
      resources: [],
      inputs: [],
      planIds: new PlanIdFactory(0),
    });
    const tagsOf = (node: Plan): unknown => ('task' in node ? node.task.tags : undefined);
    if (!('do' in result)) throw new Error('not a do');
    const [, a, inner] = result.do;
    expect(tagsOf(a!)).toEqual(['job']);
    if (!inner || !('do' in inner)) throw new Error('not a do');
    expect(inner.do.map(tagsOf)).toEqual([['do'], ['own']]);
  });

  it('marks task image checks to skip the interval for manually triggered builds', () => {
    const result = plan(`- name: j\n  plan: [{task: t, file: repo/t.yml}]`, [], { manuallyTriggered: true });
    expect('do' in result && 'task' in result.do[0]! && result.do[0].task.check_skip_interval).toBe(true);
  });

  it('produces plans the engine decodes unchanged', () => {
    const result = plan(
      `- name: j
  plan:
  - in_parallel:
    - get: repo
    - get: custom
  - put: image
    attempts: 2
  on_failure: {put: image, no_get: true}`,
      [REPO_V1, { name: 'custom', version: { v: '1' } }],
    );
    expect(parsePlan(JSON.parse(JSON.stringify(result)))).toEqual(result);
  });

  it('fails on a get without a chosen version, and on unknown resources', () => {
    expect(() => plan(`- name: j\n  plan: [{get: repo}]`)).toThrow(VersionNotProvidedError);
    expect(() => plan(`- name: j\n  plan: [{get: repo}]`)).toThrow('version for input repo not provided');
    expect(() => plan(`- name: j\n  plan: [{get: nope}]`, [{ name: 'nope', version: {} }])).toThrow(
      new UnknownResourceError('nope'),
    );
    expect(() => plan(`- name: j\n  plan: [{put: nope}]`)).toThrow('unknown resource: nope');
  });
});
