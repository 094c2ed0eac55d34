import { describe, expect, it } from '@jest/globals';
import type { ConfigWarning, PipelineConfig } from './config.js';
import { parsePipelineConfig } from './parse-pipeline-config.js';
import { validatePipelineConfig } from './validate-pipeline-config.js';

/** One `invalid <section>:` block, as Concourse formats it. */
function block(section: string, ...messages: string[]): string {
  return `invalid ${section}:\n${messages.map((message) => `\t${message}`).join('\n')}\n`;
}

function parse(text: string): PipelineConfig {
  const result = parsePipelineConfig(text);
  if (result.errors !== undefined) throw new Error(`test config does not parse: ${result.errors.join('\n')}`);
  return result.config;
}

const REPO = `
resources:
- name: repo
  type: git
  source: {uri: ((repo-uri))}
`;

/** A pipeline with the `repo` resource and one job `job` running `steps` (YAML list items at 2 spaces). */
function jobWith(steps: string, extra = ''): string {
  return `${REPO}
jobs:
- name: job
${extra}  plan:
${steps}`;
}

interface Case {
  name: string;
  yaml: string;
  errors?: string[];
  warnings?: ConfigWarning[];
}

const invalidIdentifier = (message: string): ConfigWarning => ({ type: 'invalid_identifier', message });

const cases: Case[] = [
  {
    name: 'a minimal valid pipeline',
    yaml: jobWith('  - get: repo\n    trigger: true\n'),
  },
  {
    name: 'a pipeline without jobs',
    yaml: '{}',
    errors: [block('jobs', 'jobs: pipeline must contain at least one job')],
  },
  {
    name: 'a group with an unknown resource (API example)',
    yaml: `${jobWith('  - get: repo\n')}
groups:
- name: some-group
  jobs: [job]
  resources: [missing-resource]
`,
    errors: [block('groups', "group 'some-group' has unknown resource 'missing-resource'")],
  },
  {
    name: 'a group glob that matches no job, leaving the job ungrouped',
    yaml: `${jobWith('  - get: repo\n')}
groups:
- name: g
  jobs: ["deploy-*"]
`,
    errors: [block('groups', "no jobs match 'deploy-*' for group 'g'", "job 'job' belongs to no group")],
  },
  {
    name: 'a group glob that does not compile',
    yaml: `${jobWith('  - get: repo\n')}
groups:
- name: g
  jobs: ["[z-a]", job]
`,
    errors: [block('groups', "invalid glob expression '[z-a]' for group 'g'")],
  },
  {
    name: 'group globs with alternatives and wildcards',
    yaml: `${REPO}
jobs:
- name: deploy-dev
  plan: [{get: repo}]
- name: deploy-staging
  plan: [{get: repo}]
- name: unit
  plan: [{get: repo}]
groups:
- name: deploys
  jobs: ["deploy-{dev,staging}"]
- name: all
  jobs: ["*"]
`,
  },
  {
    name: 'duplicate group names',
    yaml: `${jobWith('  - get: repo\n')}
groups:
- name: g
  jobs: [job]
- name: g
  jobs: [job]
`,
    errors: [block('groups', "group 'g' appears 2 times. Duplicate names are not allowed.")],
  },
  {
    name: 'a group name that is not an identifier',
    yaml: `${jobWith('  - get: repo\n')}
groups:
- name: Group
  jobs: [job]
`,
    warnings: [
      invalidIdentifier(
        "groups.Group: 'Group' is not a valid identifier: must start with a lowercase letter or a number",
      ),
    ],
  },
  {
    name: 'duplicate resource names',
    yaml: `
resources:
- name: repo
  type: git
- name: repo
  type: git
jobs:
- name: job
  plan: [{get: repo}]
`,
    errors: [block('resources', "resources[0] and resources[1] have the same name ('repo')")],
  },
  {
    name: 'a resource without a name',
    yaml: `
resources:
- name: repo
  type: git
- type: git
jobs:
- name: job
  plan: [{get: repo}]
`,
    errors: [
      block(
        'resources',
        'resources[1]: identifier cannot be an empty string',
        'resources[1] has no name',
        "resource '' is not used",
      ),
    ],
  },
  {
    name: 'a resource without a type',
    yaml: `
resources:
- name: repo
jobs:
- name: job
  plan: [{get: repo}]
`,
    errors: [block('resources', 'resources.repo has no type')],
  },
  {
    name: 'an unused resource (an error, not a warning)',
    yaml: `${REPO}
- name: other
  type: git
jobs:
- name: job
  plan: [{get: repo}]
`,
    errors: [block('resources', "resource 'other' is not used")],
  },
  {
    name: 'a resource named with digits only',
    yaml: `
resources:
- name: "123"
  type: git
jobs:
- name: job
  plan: [{get: "123"}]
`,
    warnings: [
      invalidIdentifier("resources.123: '123' is not a valid identifier: cannot be just numbers"),
      invalidIdentifier(
        "jobs.job.plan.do[0].get(123): '123' is not a valid identifier: cannot be just numbers",
      ),
    ],
  },
  {
    name: 'a resource name with an illegal character',
    yaml: `
resources:
- name: my repo
  type: git
jobs:
- name: job
  plan: [{get: src, resource: my repo}]
`,
    warnings: [
      invalidIdentifier("resources.my repo: 'my repo' is not a valid identifier: illegal character ' '"),
    ],
  },
  {
    name: 'unicode letters are valid identifiers',
    yaml: `
resources:
- name: dépôt
  type: git
jobs:
- name: 构建
  plan: [{get: dépôt}]
`,
  },
  {
    name: 'duplicate resource types, and a prototype reusing a type name',
    yaml: `${jobWith('  - get: repo\n')}
resource_types:
- name: my-type
  type: registry-image
- name: my-type
  type: registry-image
- name: untyped
prototypes:
- name: my-type
  type: registry-image
`,
    errors: [
      block(
        'resource types',
        "resource_types[0] and resource_types[1] have the same name ('my-type')",
        'resource_types.untyped has no type',
      ),
      block('prototypes', "resource_types[0] and prototypes[0] have the same name ('my-type')"),
    ],
  },
  {
    name: 'duplicate job names',
    yaml: `${REPO}
jobs:
- name: job
  plan: [{get: repo}]
- name: job
  plan: [{get: repo}]
`,
    errors: [block('jobs', "jobs[0] and jobs[1] have the same name ('job')")],
  },
  {
    name: 'a job with an empty name',
    yaml: `${REPO}
jobs:
- name: job
  plan: [{get: repo}]
- name: ""
  plan: [{get: nope}]
`,
    errors: [
      block(
        'jobs',
        'jobs[1]: identifier cannot be an empty string',
        'jobs[1] has no name',
        "jobs[1].plan.do[0].get(nope): unknown resource 'nope'",
      ),
    ],
  },
  {
    name: 'a job without a plan is accepted, as in Concourse',
    yaml: `${REPO}
jobs:
- name: job
  plan: [{get: repo}]
- name: empty
`,
  },
  {
    name: 'deprecated build_logs_to_retain',
    yaml: jobWith('  - get: repo\n', '  build_logs_to_retain: 10\n'),
    warnings: [
      {
        type: 'deprecated_field',
        message: 'jobs.job.build_logs_to_retain is deprecated. Use build_log_retention instead.',
      },
    ],
  },
  {
    name: 'both build_log_retention and build_logs_to_retain',
    yaml: jobWith('  - get: repo\n', '  build_logs_to_retain: 10\n  build_log_retention: {builds: 5}\n'),
    errors: [block('jobs', "jobs.job can't use both build_log_retention and build_logs_to_retain")],
    warnings: [
      {
        type: 'deprecated_field',
        message: 'jobs.job.build_logs_to_retain is deprecated. Use build_log_retention instead.',
      },
    ],
  },
  {
    name: 'negative build_logs_to_retain',
    yaml: jobWith('  - get: repo\n', '  build_logs_to_retain: -1\n'),
    errors: [block('jobs', 'jobs.job has negative build_logs_to_retain: -1')],
    warnings: [
      {
        type: 'deprecated_field',
        message: 'jobs.job.build_logs_to_retain is deprecated. Use build_log_retention instead.',
      },
    ],
  },
  {
    name: 'negative build_log_retention values',
    yaml: jobWith(
      '  - get: repo\n',
      '  build_log_retention: {builds: -1, days: -2, minimum_succeeded_builds: -3}\n',
    ),
    errors: [
      block(
        'jobs',
        'jobs.job has negative build_log_retention.builds: -1',
        'jobs.job has negative build_log_retention.days: -2',
        'jobs.job has negative build_log_retention.min_success_builds: -3',
      ),
    ],
  },
  {
    name: 'minimum_succeeded_builds greater than builds (message as Concourse words it)',
    yaml: jobWith('  - get: repo\n', '  build_log_retention: {builds: 2, minimum_succeeded_builds: 5}\n'),
    errors: [
      block(
        'jobs',
        'jobs.job has build_log_retention.min_success_builds: 5 greater than build_log_retention.min_success_builds: 2',
      ),
    ],
  },
  {
    name: 'a get of an unknown resource',
    yaml: jobWith('  - get: repo\n  - get: nope\n'),
    errors: [block('jobs', "jobs.job.plan.do[1].get(nope): unknown resource 'nope'")],
  },
  {
    name: 'a put of an unknown resource through resource:',
    yaml: jobWith('  - get: repo\n  - put: out\n    resource: nope\n'),
    errors: [block('jobs', "jobs.job.plan.do[1].put(out): unknown resource 'nope'")],
  },
  {
    name: 'passed: with no matching job',
    yaml: jobWith('  - get: repo\n    passed: [nope, "unit-*"]\n'),
    errors: [
      block(
        'jobs',
        "jobs.job.plan.do[0].get(repo).passed: no matching job(s) for 'nope'",
        "jobs.job.plan.do[0].get(repo).passed: no matching job(s) for 'unit-*'",
      ),
    ],
  },
  {
    name: 'passed: a job that does not interact with the resource',
    yaml: `
resources:
- {name: repo, type: git}
- {name: other, type: git}
jobs:
- name: a
  plan: [{get: repo}]
- name: b
  plan:
  - get: repo
    passed: [a]
  - get: other
    passed: [a]
`,
    errors: [
      block('jobs', "jobs.b.plan.do[1].get(other).passed: job 'a' does not interact with resource 'other'"),
    ],
  },
  {
    name: 'passed: globs, and an upstream job that only puts the resource',
    yaml: `
resources:
- {name: repo, type: git}
- {name: image, type: registry-image}
jobs:
- name: unit-a
  plan: [{get: repo}, {put: image}]
- name: unit-b
  plan: [{get: repo}, {put: img, resource: image}]
- name: deploy
  plan:
  - get: image
    passed: ["unit-*"]
`,
  },
  {
    name: 'passed: a glob matching a job that does not interact',
    yaml: `
resources:
- {name: repo, type: git}
- {name: image, type: registry-image}
jobs:
- name: unit-a
  plan: [{get: repo}, {put: image}]
- name: unit-b
  plan: [{get: repo}]
- name: deploy
  plan:
  - get: image
    passed: ["unit-?"]
`,
    errors: [
      block(
        'jobs',
        "jobs.deploy.plan.do[0].get(image).passed: job 'unit-b' does not interact with resource 'image'",
      ),
    ],
  },
  {
    name: 'two gets with the same name in one job',
    yaml: jobWith('  - get: repo\n  - in_parallel:\n    - get: repo\n'),
    errors: [block('jobs', 'jobs.job.plan.do[1].in_parallel.steps[0].get(repo): repeated name')],
  },
  {
    name: 'a job hook with an unknown resource',
    yaml: `${REPO}
jobs:
- name: job
  plan: [{get: repo}]
  on_failure: {put: nope}
  ensure: {task: cleanup}
`,
    errors: [
      block(
        'jobs',
        "jobs.job.plan.on_failure.put(nope): unknown resource 'nope'",
        'jobs.job.plan.ensure.task(cleanup): must specify either `file:` or `config:`',
      ),
    ],
  },
  {
    name: 'a step hook with an unknown resource',
    yaml: jobWith('  - get: repo\n    on_success: {get: nope}\n    on_abort: {get: other}\n'),
    errors: [
      block(
        'jobs',
        // on_abort wraps on_success (precedence), and a wrapper validates its inner step first
        "jobs.job.plan.do[0].on_success.get(nope): unknown resource 'nope'",
        "jobs.job.plan.do[0].on_abort.get(other): unknown resource 'other'",
      ),
    ],
  },
  {
    name: 'a task with neither file nor config',
    yaml: jobWith('  - get: repo\n  - task: t\n'),
    errors: [block('jobs', 'jobs.job.plan.do[1].task(t): must specify either `file:` or `config:`')],
  },
  {
    name: 'a task with both file and config',
    yaml: jobWith(
      '  - get: repo\n  - task: t\n    file: repo/t.yml\n    config: {platform: linux, run: {path: echo}}\n',
    ),
    errors: [
      block('jobs', 'jobs.job.plan.do[1].task(t): must specify one of `file:` or `config:`, not both'),
    ],
  },
  {
    name: 'an inline task config without platform and with a nameless input',
    yaml: jobWith(
      '  - get: repo\n  - task: t\n    config:\n      inputs: [{path: x}]\n      run: {path: echo}\n',
    ),
    errors: [
      block(
        'jobs',
        "jobs.job.plan.do[1].task(t).config: missing 'platform'",
        'jobs.job.plan.do[1].task(t).config:   input in position 0 is missing a name',
      ),
    ],
  },
  {
    name: 'an inline task config with a misspelled key',
    yaml: jobWith(
      '  - get: repo\n  - task: t\n    config:\n      platform: linux\n      run: {path: echo}\n      ouputs: [{name: out}]\n',
    ),
    errors: [block('jobs', 'jobs.job.plan.do[1].task(t).config: unknown fields ["ouputs"]')],
  },
  {
    name: 'a task image: together with an image in the config',
    yaml: jobWith(
      '  - get: repo\n  - task: t\n    image: repo\n    config:\n      platform: linux\n      image_resource: {name: "", type: registry-image, source: {repository: busybox}}\n      run: {path: echo}\n',
    ),
    warnings: [
      {
        type: 'pipeline',
        message:
          'jobs.job.plan.do[1].task(t): specifies image: on the step but also specifies an image under config: - the image: on the step takes precedence',
      },
    ],
  },
  {
    name: 'a hermetic task',
    yaml: jobWith('  - get: repo\n  - task: t\n    file: repo/t.yml\n    hermetic: true\n'),
    warnings: [
      {
        type: 'pipeline',
        message:
          'jobs.job.plan.do[1].task(t): specifies `hermetic:` only works against worker containerd runtime',
      },
    ],
  },
  {
    name: 'a set_pipeline step without file',
    yaml: jobWith('  - get: repo\n  - set_pipeline: self\n  - set_pipeline: other\n    file: repo/p.yml\n'),
    errors: [block('jobs', 'jobs.job.plan.do[1].set_pipeline(self): no file specified')],
  },
  {
    name: 'load_var without file, and the same var loaded twice',
    yaml: jobWith('  - get: repo\n  - load_var: v\n  - load_var: v\n    file: repo/v.txt\n'),
    errors: [
      block(
        'jobs',
        'jobs.job.plan.do[1].load_var(v): no file specified',
        'jobs.job.plan.do[2].load_var(v): repeated var name',
      ),
    ],
  },
  {
    name: 'across without vars',
    yaml: jobWith('  - get: repo\n  - across: []\n    task: t\n    file: repo/t.yml\n'),
    errors: [block('jobs', 'jobs.job.plan.do[1].across: no vars specified')],
  },
  {
    name: 'across max_in_flight below 1, and a repeated var',
    yaml: jobWith(
      '  - get: repo\n  - across:\n    - {var: x, values: [1, 2], max_in_flight: 0}\n    - {var: x, values: [3], max_in_flight: all}\n    task: t\n    file: repo/t.yml\n',
    ),
    errors: [
      block(
        'jobs',
        'jobs.job.plan.do[1].across[0].max_in_flight: must be greater than 0',
        'jobs.job.plan.do[1].across[1]: repeated var name',
      ),
    ],
  },
  {
    name: 'an across var shadowing a loaded var',
    yaml: jobWith(
      '  - get: repo\n  - load_var: x\n    file: repo/x\n  - across: [{var: x, values: [a]}]\n    set_pipeline: p-((.:x))\n    file: repo/p.yml\n',
    ),
    warnings: [{ type: 'var_shadowed', message: "jobs.job.plan.do[2].across[0]: shadows local var 'x'" }],
  },
  {
    name: 'templated task names are only allowed directly inside across',
    yaml: jobWith(
      '  - get: repo\n  - across: [{var: x, values: [a]}]\n    task: t-((.:x))\n    file: repo/t.yml\n  - task: u-((.:x))\n    file: repo/t.yml\n',
    ),
    warnings: [
      invalidIdentifier(
        "jobs.job.plan.do[2].task(u-((.:x))): 'u-((.:x))' is not a valid identifier: illegal character '('",
      ),
    ],
  },
  {
    name: 'a timeout that is not a Go duration',
    yaml: jobWith('  - get: repo\n  - do: [{get: repo, resource: repo, passed: []}]\n    timeout: 5x\n'),
    errors: [
      block(
        'jobs',
        'jobs.job.plan.do[1].do[0].get(repo): repeated name',
        "jobs.job.plan.do[1].timeout: invalid duration '5x'",
      ),
    ],
  },
  {
    name: 'attempts below 1',
    yaml: jobWith('  - get: repo\n    attempts: 0\n'),
    errors: [block('jobs', 'jobs.job.plan.do[0].attempts: must be greater than 0')],
  },
  {
    name: 'unknown keys on a step',
    yaml: jobWith('  - get: repo\n    trigger: true\n    trgger: true\n'),
    errors: [block('jobs', 'jobs.job.plan.do[0]: unknown fields ["trgger"]')],
  },
  {
    name: 'a step with two core step keys',
    yaml: jobWith('  - get: repo\n    put: repo\n'),
    errors: [block('jobs', 'jobs.job.plan.do[0]: unknown fields ["get"]')],
  },
  {
    name: 'a timeout on a step that has its own (task) is consumed by it',
    yaml: jobWith('  - get: repo\n  - task: t\n    file: repo/t.yml\n    timeout: not-a-duration\n'),
  },
  {
    name: 'steps nested in try, do and in_parallel',
    yaml: jobWith(
      '  - get: repo\n  - try:\n      do:\n      - in_parallel:\n          limit: 2\n          steps: [{get: a}, {put: b}]\n',
    ),
    errors: [
      block(
        'jobs',
        "jobs.job.plan.do[1].try.do[0].in_parallel.steps[0].get(a): unknown resource 'a'",
        "jobs.job.plan.do[1].try.do[0].in_parallel.steps[1].put(b): unknown resource 'b'",
      ),
    ],
  },
  {
    name: 'an empty step name',
    yaml: jobWith('  - get: repo\n  - put: ""\n    resource: repo\n'),
    errors: [
      block(
        'jobs',
        'jobs.job.plan.do[1].put(): jobs.job.plan.do[1].put(): identifier cannot be an empty string',
      ),
    ],
  },
  {
    name: 'a cycle through passed:',
    yaml: `${REPO}
jobs:
- name: a
  plan: [{get: repo, passed: [b]}]
- name: b
  plan: [{get: repo, passed: [a]}]
`,
    errors: [block('jobs', "pipeline contains a cycle that starts at Job 'a'")],
  },
  {
    name: 'a job that depends on itself',
    yaml: jobWith('  - get: repo\n    passed: [job]\n'),
    errors: [block('jobs', "pipeline contains a cycle that starts at Job 'job'")],
  },
  {
    name: 'var sources: unknown and unsupported types, bad dummy config, duplicates',
    yaml: `${jobWith('  - get: repo\n')}
var_sources:
- {name: a, type: nope}
- {name: k, type: credhub, config: {url: "https://credhub"}}
- {name: d, type: dummy, config: {}}
- {name: d, type: dummy, config: {vars: {x: y}}}
`,
    errors: [
      block(
        'variable sources',
        'unknown credential manager type: nope',
        'credential manager type credhub is not supported in pipeline yet',
        'credential manager k is invalid: invalid URL (must be http or https)',
        'failed to create credential manager d: invalid vars config: <nil>',
        "var_sources[2] and var_sources[3] have the same name ('d')",
      ),
    ],
  },
  {
    name: 'var sources that depend on each other',
    yaml: `${jobWith('  - get: repo\n')}
var_sources:
- {name: a, type: dummy, config: {vars: {x: ((b:y))}}}
- {name: b, type: dummy, config: {vars: {y: ((a:x))}}}
- {name: c, type: dummy, config: {vars: {z: ((d:w))}}}
- {name: d, type: dummy, config: {vars: {w: "1"}}}
`,
    errors: [
      block(
        'variable sources',
        'failed to order by dependency: could not resolve inter-dependent var sources: a, b',
      ),
    ],
  },
  {
    name: 'a vault var source without auth',
    yaml: `${jobWith('  - get: repo\n')}
var_sources:
- {name: v, type: vault, config: {url: "https://vault.example.com"}}
`,
    errors: [
      block(
        'variable sources',
        'credential manager v is invalid: must configure client token or auth backend',
      ),
    ],
  },
  {
    name: 'a display background with an unsupported scheme',
    yaml: `${jobWith('  - get: repo\n')}
display: {background_image: "ftp://example.com/bg.png"}
`,
    errors: [block('display config', 'background_image scheme must be either http, https or relative')],
  },
  {
    name: 'a display background that is not a URL',
    yaml: `${jobWith('  - get: repo\n')}
display: {background_image: "http://[::1/bg.png"}
`,
    errors: [block('display config', 'background_image is not a valid URL: http://[::1/bg.png')],
  },
  {
    name: 'relative and http(s) display backgrounds',
    yaml: `${jobWith('  - get: repo\n')}
display: {background_image: "images/bg.png", background_filter: "opacity(30%)"}
`,
  },
  {
    name: 'a run step with an unknown prototype and a bad message name',
    yaml: jobWith('  - get: repo\n  - run: Go\n    type: proto\n'),
    errors: [
      block(
        'jobs',
        "jobs.job.plan.do[1].run(proto.Go): jobs.job.plan.do[1].run(proto.Go): 'Go' is not a valid identifier: must start with a lowercase letter or a number",
        "jobs.job.plan.do[1].run(proto.Go): unknown prototype 'proto'",
      ),
    ],
  },
  {
    name: 'errors in several sections, in Concourse order, with the cycle last',
    yaml: `
resources:
- {name: repo, type: git}
- {name: unused, type: git}
groups:
- {name: g, jobs: [a, b], resources: [nope]}
jobs:
- name: a
  plan: [{get: repo, passed: [b]}, {task: t}]
- name: b
  plan: [{get: repo, passed: [a]}]
display: {background_image: "s3://bucket/bg.png"}
`,
    errors: [
      block('groups', "group 'g' has unknown resource 'nope'"),
      block('resources', "resource 'unused' is not used"),
      block('jobs', 'jobs.a.plan.do[1].task(t): must specify either `file:` or `config:`'),
      block('display config', 'background_image scheme must be either http, https or relative'),
      block('jobs', "pipeline contains a cycle that starts at Job 'a'"),
    ],
  },
];

describe('validatePipelineConfig', () => {
  it('has a large table of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('$name', ({ yaml, errors = [], warnings = [] }) => {
    const result = validatePipelineConfig(parse(yaml));
    expect(result.errors).toEqual(errors);
    expect(result.warnings).toEqual(warnings);
  });

  it('accepts a custom var source check for credential managers it does not know in detail', () => {
    const config = parse(`${jobWith('  - get: repo\n')}
var_sources:
- {name: s, type: ssm, config: {region: eu-west-1}}
`);
    expect(validatePipelineConfig(config).errors).toEqual([]);
    const strict = validatePipelineConfig(config, {
      varSourceChecks: {
        ssm: () => ({ createError: "1 error(s) decoding:\n\n* '' has invalid keys: region" }),
      },
    });
    expect(strict.errors).toEqual([
      "invalid variable sources:\n\tfailed to create credential manager s: 1 error(s) decoding:\n\t\n\t* '' has invalid keys: region\n",
    ]);
  });
});
