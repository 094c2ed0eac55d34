import { describe, expect, it } from '@jest/globals';
import { toConfigJson, type ConfigJson } from './config-json.js';
import type { PipelineConfig } from './config.js';
import { parsePipelineConfig } from './parse-pipeline-config.js';
import { validatePipelineConfig } from './validate-pipeline-config.js';

function parsed(text: string): PipelineConfig {
  const result = parsePipelineConfig(text);
  if (result.errors !== undefined) throw new Error(result.errors.join('\n'));
  return result.config;
}

/** What fly does on `set-pipeline`: decode what `GET P/config` returned and compare with the local file. */
function roundTrip(text: string): { first: ConfigJson; second: ConfigJson } {
  const first = toConfigJson(parsed(text));
  const second = toConfigJson(parsed(JSON.stringify(first)));
  return { first, second };
}

const FULL_PIPELINE = `
groups:
- name: all
  jobs: ["*"]
  resources: [repo, image]
var_sources:
- name: vault
  type: vault
  config: {url: "https://vault", client_token: ((token)), path_prefix: /ci}
display:
  background_image: https://example.com/bg.png
user_data: {team: {owner: me, tags: [a, b]}}
resource_types:
- name: pr
  type: registry-image
  source: {repository: teliaoss/github-pr-resource}
  defaults: {access_token: ((gh))}
  check_every: 24h
  tags: [linux]
  privileged: true
  params: {format: oci}
resources:
- name: repo
  type: git
  icon: github
  source: {uri: ((uri)), branch: main}
  check_every: 90s
  check_timeout: 5m
  webhook_token: ((webhook))
  public: true
  version: {ref: abc}
- name: image
  type: registry-image
  old_name: img
  source: {repository: busybox}
  tags: [gpu]
  expose_build_created_by: true
jobs:
- name: build
  old_name: compile
  public: true
  serial_groups: [deploys]
  max_in_flight: 2
  interruptible: true
  disable_manual_trigger: true
  build_log_retention: {builds: 10, minimum_succeeded_builds: 2, days: 7}
  on_failure: {put: image, params: {status: failed}}
  ensure: {task: cleanup, file: repo/ci/cleanup.yml}
  plan:
  - in_parallel:
    - get: repo
      trigger: true
      version: every
    - load_var: version
      file: repo/version
      format: trim
      reveal: true
  - task: unit
    file: repo/ci/unit.yml
    input_mapping: {source: repo}
    output_mapping: {out: built}
    params: {DEBUG: 1, NAME: ((name))}
    vars: {image: ((image))}
    image: repo
    privileged: true
    tags: [linux]
    timeout: 30m
    attempts: 2
    container_limits: {cpu: 512, memory: 2GB}
  - task: inline
    config:
      platform: linux
      image_resource:
        type: registry-image
        source: {repository: alpine}
      inputs: [{name: repo}, {name: cache, optional: true, path: c}]
      outputs: [{name: out}]
      caches: [{path: .cache}]
      params: {GOFLAGS: -mod=vendor}
      run: {path: sh, args: [-c, echo hi], dir: repo}
  - put: image
    params: {image: built/image.tar}
    inputs: detect
    get_params: {skip_download: true}
    no_get: false
  - try:
      set_pipeline: self
      file: repo/ci/pipeline.yml
      vars: {branch: main}
      var_files: [repo/ci/vars.yml]
      instance_vars: {branch: main}
      team: main
  - across:
    - var: env
      values: [dev, prod]
      max_in_flight: all
    fail_fast: true
    do:
    - task: deploy-((.:env))
      file: repo/ci/deploy.yml
    timeout: 1h
  - in_parallel:
      steps: [{get: repo, resource: repo, passed: [build]}]
      limit: 2
      fail_fast: true
    on_success: {do: []}
`;

describe('toConfigJson', () => {
  it('encodes a pipeline the way Concourse returns it from GET P/config', () => {
    const json = toConfigJson(parsed(FULL_PIPELINE));
    // Compared as text so that key order counts too: struct fields in Go's declaration order, maps and
    // steps with sorted keys.
    expect(JSON.stringify(json, null, 1)).toBe(
      JSON.stringify(
        {
          groups: [{ name: 'all', jobs: ['*'], resources: ['repo', 'image'] }],
          var_sources: [
            {
              name: 'vault',
              type: 'vault',
              config: { client_token: '((token))', path_prefix: '/ci', url: 'https://vault' },
            },
          ],
          resources: [
            {
              name: 'repo',
              public: true,
              webhook_token: '((webhook))',
              type: 'git',
              source: { branch: 'main', uri: '((uri))' },
              check_every: '1m30s',
              check_timeout: '5m',
              version: { ref: 'abc' },
              icon: 'github',
            },
            {
              name: 'image',
              old_name: 'img',
              type: 'registry-image',
              source: { repository: 'busybox' },
              tags: ['gpu'],
              expose_build_created_by: true,
            },
          ],
          resource_types: [
            {
              name: 'pr',
              type: 'registry-image',
              source: { repository: 'teliaoss/github-pr-resource' },
              defaults: { access_token: '((gh))' },
              privileged: true,
              check_every: '24h0m0s',
              tags: ['linux'],
              params: { format: 'oci' },
            },
          ],
          jobs: [
            {
              name: 'build',
              old_name: 'compile',
              public: true,
              disable_manual_trigger: true,
              interruptible: true,
              serial_groups: ['deploys'],
              max_in_flight: 2,
              build_log_retention: { builds: 10, minimum_succeeded_builds: 2, days: 7 },
              on_failure: { params: { status: 'failed' }, put: 'image' },
              ensure: { file: 'repo/ci/cleanup.yml', task: 'cleanup' },
              plan: [
                {
                  in_parallel: {
                    steps: [
                      { get: 'repo', trigger: true, version: 'every' },
                      { file: 'repo/version', format: 'trim', load_var: 'version', reveal: true },
                    ],
                  },
                },
                {
                  attempts: 2,
                  container_limits: { cpu: 512, memory: 2147483648 },
                  file: 'repo/ci/unit.yml',
                  image: 'repo',
                  input_mapping: { source: 'repo' },
                  output_mapping: { out: 'built' },
                  params: { DEBUG: '1', NAME: '((name))' },
                  privileged: true,
                  tags: ['linux'],
                  task: 'unit',
                  timeout: '30m',
                  vars: { image: '((image))' },
                },
                {
                  config: {
                    platform: 'linux',
                    image_resource: { name: '', type: 'registry-image', source: { repository: 'alpine' } },
                    params: { GOFLAGS: '-mod=vendor' },
                    run: { path: 'sh', args: ['-c', 'echo hi'], dir: 'repo' },
                    inputs: [{ name: 'repo' }, { name: 'cache', path: 'c', optional: true }],
                    outputs: [{ name: 'out' }],
                    caches: [{ path: '.cache' }],
                  },
                  task: 'inline',
                },
                {
                  get_params: { skip_download: true },
                  inputs: 'detect',
                  params: { image: 'built/image.tar' },
                  put: 'image',
                },
                {
                  try: {
                    file: 'repo/ci/pipeline.yml',
                    instance_vars: { branch: 'main' },
                    set_pipeline: 'self',
                    team: 'main',
                    var_files: ['repo/ci/vars.yml'],
                    vars: { branch: 'main' },
                  },
                },
                {
                  across: [{ var: 'env', values: ['dev', 'prod'], max_in_flight: 'all' }],
                  do: [{ file: 'repo/ci/deploy.yml', task: 'deploy-((.:env))' }],
                  fail_fast: true,
                  timeout: '1h',
                },
                {
                  in_parallel: {
                    steps: [{ get: 'repo', passed: ['build'], resource: 'repo' }],
                    limit: 2,
                    fail_fast: true,
                  },
                  on_success: { do: [] },
                },
              ],
            },
          ],
          display: { background_image: 'https://example.com/bg.png' },
          user_data: { team: { owner: 'me', tags: ['a', 'b'] } },
        },
        null,
        1,
      ),
    );
  });

  it('round-trips: decoding what it returns gives the same config again', () => {
    const { first, second } = roundTrip(FULL_PIPELINE);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(parsed(JSON.stringify(first))).toEqual(parsed(JSON.stringify(second)));
  });

  it('keeps a valid pipeline valid after the round trip', () => {
    const config = parsed(JSON.stringify(toConfigJson(parsed(FULL_PIPELINE))));
    expect(validatePipelineConfig(config)).toEqual(validatePipelineConfig(parsed(FULL_PIPELINE)));
  });

  it('keeps fields Go encodes without omitempty: absent is null, empty stays empty', () => {
    const json = toConfigJson(
      parsed(`
resources:
- {name: a, type: git}
- {name: b, type: git, source: {}}
var_sources:
- {name: d, type: dummy}
jobs:
- {name: no-plan}
- {name: empty-plan, plan: []}
- {name: steps, plan: [{do: null}, {do: []}, {attempts: 0, get: a}]}
`),
    );
    expect(json['resources']).toEqual([
      { name: 'a', type: 'git', source: null },
      { name: 'b', type: 'git', source: {} },
    ]);
    expect(json['var_sources']).toEqual([{ name: 'd', type: 'dummy', config: null }]);
    expect(json['jobs']).toEqual([
      { name: 'no-plan', plan: null },
      { name: 'empty-plan', plan: [] },
      { name: 'steps', plan: [{ do: null }, { do: [] }, { attempts: 0, get: 'a' }] },
    ]);
  });

  it('drops what Go’s omitempty drops', () => {
    const json = toConfigJson(
      parsed(`
groups: []
resources:
- {name: a, type: git, public: false, tags: [], icon: "", check_every: ""}
jobs:
- name: j
  serial: false
  max_in_flight: 0
  serial_groups: []
  plan:
  - {get: a, params: {}, passed: [], trigger: false, tags: [""]}
  - {task: t, file: a/t.yml, privileged: false, params: {}, input_mapping: {}}
`),
    );
    expect(json).toEqual({
      resources: [{ name: 'a', type: 'git', source: null, check_every: '' }],
      jobs: [{ name: 'j', plan: [{ get: 'a' }, { file: 'a/t.yml', task: 't' }] }],
    });
  });

  it('writes in_parallel in its object form and unknown step keys back (an invalid config keeps them)', () => {
    const json = toConfigJson(
      parsed('jobs:\n- name: j\n  plan:\n  - in_parallel: [{get: a}]\n  - {get: b, colour: red}\n'),
    );
    expect(json['jobs']).toEqual([
      { name: 'j', plan: [{ in_parallel: { steps: [{ get: 'a' }] } }, { colour: 'red', get: 'b' }] },
    ]);
  });

  it('writes versions and inputs as Concourse encodes them', () => {
    const json = toConfigJson(
      parsed(`
jobs:
- name: j
  plan:
  - {get: a, version: latest}
  - {get: b, version: something-else}
  - {get: c, version: {}}
  - {put: d, inputs: all}
  - {put: e, inputs: []}
  - {put: f, inputs: whatever}
`),
    );
    expect((json['jobs'] as Array<{ plan: unknown[] }>)[0]?.plan).toEqual([
      { get: 'a', version: 'latest' },
      { get: 'b', version: '' },
      { get: 'c', version: {} },
      { inputs: 'all', put: 'd' },
      { inputs: [], put: 'e' },
      { inputs: '', put: 'f' },
    ]);
  });

  it('round-trips the YAML-only features once resolved (anchors, merge keys, YAML 1.1 scalars)', () => {
    const { first, second } = roundTrip(`
x: &source {uri: "https://example.com/repo.git", branch: main}
resources:
- name: repo
  type: git
  source: {<<: *source, depth: 1}
jobs:
- name: j
  plan: [{get: repo, trigger: yes}]
`);
    expect(first['resources']).toEqual([
      {
        name: 'repo',
        type: 'git',
        source: { branch: 'main', depth: 1, uri: 'https://example.com/repo.git' },
      },
    ]);
    expect(second).toEqual(first);
  });
});
