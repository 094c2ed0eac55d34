import { describe, expect, it } from '@jest/globals';
import type { GetStep, Step, TaskStep } from './steps.js';
import { parsePipelineConfig } from './parse-pipeline-config.js';
import type { PipelineConfig } from './config.js';

const DECODE = 'malformed config: error unmarshaling JSON: while decoding JSON: ';
const YAML = 'malformed config: error converting YAML to JSON: yaml: ';

function parsed(text: string): PipelineConfig {
  const result = parsePipelineConfig(text);
  expect(result.errors).toBeUndefined();
  return result.config as PipelineConfig;
}

function errorsOf(text: string): string[] {
  const result = parsePipelineConfig(text);
  expect(result.config).toBeUndefined();
  return result.errors ?? [];
}

function firstStep(config: PipelineConfig): Step {
  const step = config.jobs?.[0]?.plan?.[0];
  if (step === undefined) throw new Error('no step');
  return step;
}

describe('parsePipelineConfig: malformed YAML', () => {
  it('reports a syntax error with its line and column', () => {
    expect(errorsOf('jobs:\n- name: a\n  plan: [{get: x}\nresources: []\n')).toEqual([
      `${YAML}line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('reports an unterminated quoted string', () => {
    const [error] = errorsOf('resources:\n- name: "repo\n  type: git\n');
    expect(error).toMatch(
      /^malformed config: error converting YAML to JSON: yaml: line \d+, column \d+: Missing closing "quote/,
    );
  });

  it('reports bad indentation', () => {
    expect(errorsOf('jobs:\n  - name: a\n     plan: []\n')[0]).toBe(
      `${YAML}line 2, column 11: Nested mappings are not allowed in compact mappings`,
    );
  });

  it('reports duplicate keys with both positions, at any depth', () => {
    expect(errorsOf('resource_types: []\njobs: []\nresource_types: []\n')).toEqual([
      `${YAML}line 3, column 1: mapping key "resource_types" already defined at line 1, column 1`,
    ]);
    expect(
      errorsOf('jobs:\n- name: a\n  plan:\n  - get: x\n    trigger: true\n    trigger: false\n'),
    ).toEqual([`${YAML}line 6, column 5: mapping key "trigger" already defined at line 5, column 5`]);
  });

  it('reports an alias to an unknown anchor', () => {
    expect(errorsOf('jobs: *nope\n')[0]).toMatch(/^malformed config: error converting YAML to JSON: yaml: /);
  });

  it('lets merge keys repeat and resolves them', () => {
    const config = parsed(`
x-defaults: &defaults {type: git, check_every: 10m}
resources:
- <<: *defaults
  <<: {icon: github}
  name: repo
jobs: [{name: j, plan: [{get: repo}]}]
`);
    expect(config.resources).toEqual([{ name: 'repo', type: 'git', check_every: '10m0s', icon: 'github' }]);
  });
});

describe('parsePipelineConfig: decoding', () => {
  it('drops unknown top-level keys silently', () => {
    expect(parsed('anchors: {a: 1}\njobs: []\n')).toEqual({ jobs: [] });
  });

  it('reads JSON as well', () => {
    const config = parsed(
      '{"resources":[{"name":"r","type":"git","source":{"uri":"u"}}],"jobs":[{"name":"j","plan":[{"get":"r"}]}]}',
    );
    expect(config.resources?.[0]?.source).toEqual({ uri: 'u' });
    expect(parsePipelineConfig('{"jobs": []}', 'application/json').config).toEqual({ jobs: [] });
  });

  it('treats an empty document as an empty config', () => {
    expect(parsed('')).toEqual({});
    expect(parsed('# only a comment\n')).toEqual({});
  });

  it('rejects a document that is not a map', () => {
    expect(errorsOf('- a\n- b\n')).toEqual([
      `${DECODE}json: cannot unmarshal array into Go value of type atc.skeletonConfig`,
    ]);
  });

  it('rejects unknown keys inside resources, jobs and other structures', () => {
    expect(errorsOf('resources:\n- name: r\n  type: git\n  sorce: {}\n')).toEqual([
      `${DECODE}json: unknown field "sorce"`,
    ]);
    expect(errorsOf('jobs:\n- name: j\n  serail: true\n  plan: []\n')).toEqual([
      `${DECODE}json: unknown field "serail"`,
    ]);
    expect(errorsOf('jobs:\n- name: j\n  build_log_retention: {build: 1}\n')).toEqual([
      `${DECODE}json: unknown field "build"`,
    ]);
    expect(errorsOf('display: {background: x}\n')).toEqual([`${DECODE}json: unknown field "background"`]);
  });

  it('reports wrong types the way Go does', () => {
    expect(errorsOf('jobs:\n- name: j\n  serial: "yes please"\n')).toEqual([
      `${DECODE}json: cannot unmarshal string into Go struct field JobConfig.jobs.serial of type bool`,
    ]);
    expect(errorsOf('jobs:\n- name: j\n  max_in_flight: 1.5\n')).toEqual([
      `${DECODE}json: cannot unmarshal number 1.5 into Go struct field JobConfig.jobs.max_in_flight of type int`,
    ]);
    expect(errorsOf('resources:\n- name: r\n  type: git\n  source: uri\n')).toEqual([
      `${DECODE}json: cannot unmarshal string into Go struct field ResourceConfig.resources.source of type atc.Source`,
    ]);
  });

  it('validates check_every when decoding and keeps Go’s canonical form', () => {
    expect(errorsOf('resources:\n- {name: r, type: git, check_every: 1x}\n')).toEqual([
      `${DECODE}time: unknown unit "x" in duration "1x"`,
    ]);
    expect(errorsOf('resources:\n- {name: r, type: git, check_every: 5}\n')).toEqual([
      `${DECODE}non-string value provided`,
    ]);
    const config = parsed(
      'resource_types:\n- {name: t, type: registry-image, check_every: 90s}\nresources:\n- {name: r, type: t, check_every: never}\n',
    );
    expect(config.resource_types?.[0]?.check_every).toBe('1m30s');
    expect(config.resources?.[0]?.check_every).toBe('never');
  });

  it('reads YAML 1.1 scalars as Concourse does (yes/on/n are booleans, 0777 is octal)', () => {
    // go-yaml v2 behind sigs.k8s.io/yaml resolves these the same way, keys included (`n:` becomes "false").
    const config = parsed(
      'jobs:\n- name: j\n  public: yes\n  plan:\n  - get: r\n    trigger: on\n    params: {mode: 0777, when: 2024-01-02, n: no}\n',
    );
    const get = firstStep(config).config as GetStep;
    expect(config.jobs?.[0]?.public).toBe(true);
    expect(get.trigger).toBe(true);
    expect(get.params).toEqual({ mode: 511, when: '2024-01-02', false: false });
  });

  it('keeps ((vars)) as strings wherever a string or free-form value goes', () => {
    const config = parsed(`
resources:
- name: repo
  type: ((type))
  webhook_token: ((token))
  source: {uri: ((uri)), "((key))": ((value))}
jobs:
- name: j
  plan:
  - get: src
    resource: ((resource))
    passed: [((upstream))]
    params: {p: ((p))}
    timeout: ((get-timeout))
  - task: t
    file: src/((task-file))
    vars: {a: ((a))}
    params: {B: ((b))}
`);
    expect(config.resources?.[0]).toEqual({
      name: 'repo',
      type: '((type))',
      webhook_token: '((token))',
      source: { uri: '((uri))', '((key))': '((value))' },
    });
    expect(config.jobs?.[0]?.plan?.[1]?.config).toEqual({
      kind: 'task',
      name: 't',
      file: 'src/((task-file))',
      vars: { a: '((a))' },
      params: { B: '((b))' },
    });
  });

  it('needs typed fields to be resolved before saving, as Concourse does', () => {
    expect(errorsOf('jobs:\n- name: j\n  plan:\n  - get: r\n    params: ((params))\n')).toEqual([
      `${DECODE}malformed get step: json: cannot unmarshal string into Go struct field GetStep.params of type atc.Params`,
    ]);
    expect(errorsOf('jobs:\n- name: j\n  plan:\n  - get: r\n    attempts: ((attempts))\n')).toEqual([
      `${DECODE}malformed attempts step: json: cannot unmarshal string into Go struct field RetryStep.attempts of type int`,
    ]);
  });
});

describe('parsePipelineConfig: the step envelope', () => {
  it('wraps modifiers in precedence order around the core step', () => {
    const step = firstStep(
      parsed(
        'jobs:\n- name: j\n  plan:\n  - task: t\n    file: a/t.yml\n    timeout: 10m\n    attempts: 3\n    on_failure: {put: alert}\n    ensure: {get: cleanup}\n',
      ),
    );
    expect(step).toEqual({
      config: {
        kind: 'ensure',
        hook: { config: { kind: 'get', name: 'cleanup' } },
        step: {
          kind: 'on_failure',
          hook: { config: { kind: 'put', name: 'alert' } },
          step: {
            kind: 'retry',
            attempts: 3,
            step: { kind: 'task', name: 't', file: 'a/t.yml', timeout: '10m' },
          },
        },
      },
    });
  });

  it('gives timeout its own wrapper only for steps without a timeout field', () => {
    const step = firstStep(
      parsed(
        'jobs:\n- name: j\n  plan:\n  - do: []\n    timeout: 1h\n    across: [{var: x, values: [1, 2], max_in_flight: all}]\n    fail_fast: true\n',
      ),
    );
    expect(step.config).toEqual({
      kind: 'across',
      vars: [{ var: 'x', values: [1, 2], max_in_flight: 'all' }],
      fail_fast: true,
      step: { kind: 'timeout', duration: '1h', step: { kind: 'do', steps: [] } },
    });
  });

  it('keeps the keys left after the core step as unknown fields', () => {
    const step = firstStep(parsed('jobs:\n- name: j\n  plan:\n  - get: a\n    put: b\n    color: red\n'));
    expect(step.config).toEqual({ kind: 'put', name: 'b' });
    expect(step.unknownFields).toEqual({ get: 'a', color: 'red' });
  });

  it('reads in_parallel as a list or as {steps, limit, fail_fast}', () => {
    const list = firstStep(parsed('jobs:\n- name: j\n  plan:\n  - in_parallel: [{get: a}, {get: b}]\n'));
    expect(list.config).toEqual({
      kind: 'in_parallel',
      steps: [{ config: { kind: 'get', name: 'a' } }, { config: { kind: 'get', name: 'b' } }],
    });
    const object = firstStep(
      parsed(
        'jobs:\n- name: j\n  plan:\n  - in_parallel: {steps: [{get: a}], limit: 2, fail_fast: true}\n    tags: [t]\n',
      ),
    );
    expect(object.config).toEqual({
      kind: 'in_parallel',
      steps: [{ config: { kind: 'get', name: 'a' } }],
      limit: 2,
      fail_fast: true,
      tags: ['t'],
    });
  });

  it('decodes step field types as Concourse does', () => {
    const config = parsed(`
jobs:
- name: j
  plan:
  - get: a
    version: every
  - get: b
    version: {ref: abc}
  - get: c
    version: whatever
  - put: d
    inputs: [" x ", z]
    tags: ["", gpu]
  - put: e
    inputs: detect
  - task: t
    container_limits: {cpu: 512, memory: 1GB}
    params: {NUM: 1, B: true, S: s, NIL: null, M: {k: v}}
    config:
      platform: linux
      run: {path: sh}
`);
    const steps = config.jobs?.[0]?.plan?.map((step) => step.config);
    expect(steps?.[0]).toMatchObject({ version: 'every' });
    expect(steps?.[1]).toMatchObject({ version: { ref: 'abc' } });
    expect(steps?.[2]).toMatchObject({ version: '' });
    expect(steps?.[3]).toEqual({ kind: 'put', name: 'd', inputs: ['x', 'z'], tags: ['gpu'] });
    expect(steps?.[4]).toMatchObject({ inputs: 'detect' });
    const task = steps?.[5] as TaskStep;
    expect(task.container_limits).toEqual({ cpu: 512, memory: 1024 ** 3 });
    expect(task.params).toEqual({ NUM: '1', B: 'true', S: 's', NIL: '', M: '{"k":"v"}' });
    expect(task.config).toMatchObject({ platform: 'linux', run: { path: 'sh' } });
  });

  it.each([
    ['an empty step', '{}', 'no step configured'],
    ['a null step', 'null', 'no step configured'],
    [
      'a step that is not a map',
      '"get"',
      'json: cannot unmarshal string into Go value of type map[string]*json.RawMessage',
    ],
    [
      'only modifiers',
      '{timeout: 1h, attempts: 2}',
      'no core step type declared (e.g. get, put, task, etc.)',
    ],
    ['an unknown step type', '{gett: a}', 'no step configured'],
    ['an empty hook', '{get: a, on_success: {}}', 'malformed on_success step: no step configured'],
    [
      'a nested malformed step',
      '{try: {get: [a]}}',
      'malformed try step: malformed get step: json: cannot unmarshal array into Go struct field GetStep.get of type string',
    ],
    [
      'in_parallel: null',
      '{in_parallel: null}',
      'malformed in_parallel step: wrong type for parallel config: <nil>',
    ],
    [
      'a malformed in_parallel entry',
      '{in_parallel: [{}]}',
      'malformed in_parallel step: failed to unmarshal parallel steps: no step configured',
    ],
    ['a bad version', '{get: a, version: [1]}', 'malformed get step: unknown type for version'],
    [
      'a non-string pinned version',
      '{get: a, version: {ref: 1}}',
      'malformed get step: the value 1 of ref is not a string',
    ],
    ['non-string put inputs', '{put: a, inputs: [1]}', 'malformed put step: non-string put input: 1'],
    [
      'a bad across max_in_flight',
      '{across: [{var: x, max_in_flight: some}], do: []}',
      'malformed across step: invalid max_in_flight "some"',
    ],
    [
      'an unknown key in an across var',
      '{across: [{var: x, valuez: [1]}], do: []}',
      'malformed across step: json: unknown field "valuez"',
    ],
    [
      'a bad memory limit',
      '{task: t, container_limits: {memory: lots}}',
      'malformed task step: could not parse container memory limit',
    ],
    [
      'a non-numeric cpu limit',
      '{task: t, container_limits: {cpu: lots}}',
      'malformed task step: cpu limit must be an integer',
    ],
  ])('reports %s', (_, step, message) => {
    expect(errorsOf(`jobs:\n- name: j\n  plan:\n  - ${step}\n`)).toEqual([`${DECODE}${message}`]);
  });

  it('treats a null job hook as no hook', () => {
    expect(parsed('jobs:\n- name: j\n  on_success: null\n  plan: []\n').jobs?.[0]).toEqual({
      name: 'j',
      plan: [],
    });
  });
});
