import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GetPlan, Plan } from '@jetbridge/plan';
import type { FetchedVersion } from '../build-recorder.js';
import {
  addResourceType,
  filesOf,
  run,
  shTask,
  startWorld,
  RecordingSink,
  type TestWorld,
} from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  // Records what the protocol gave it: argv, working directory contents, env and stdin.
  await addResourceType(world, 'recorder', {
    in: [
      'printf "%s\\n" "$@" > argv',
      'env | sort > env',
      'cat > request.json',
      'echo "fetching" >&2',
      'echo \'{"version":{"ref":"abc"},"metadata":[{"name":"m","value":"x"}]} trailing output is ignored\'',
    ].join('\n'),
  });
  await addResourceType(world, 'broken', { in: 'echo oops >&2\nexit 1' });
  await addResourceType(world, 'garbage', { in: 'echo oops' });
  await addResourceType(world, 'null-version', { in: 'echo \'{"metadata":[]}\'' });
  await addResourceType(world, 'slow', { in: 'echo started >&2\nexec sleep 30' });
});
afterAll(async () => {
  await world.close();
});

function get(id: string, name: string, type: string, body: Partial<GetPlan> = {}): Plan {
  return { id, get: { name, type, source: {}, image: {}, ...body } };
}

/** The files of artifact `name` after a plan ran: the plan is ensured an artifact_output of it. */
async function runAndCollect(plan: Plan, name: string, options: Parameters<typeof run>[2] = {}) {
  const publish: Plan = { id: 'publish', artifact_output: { name } };
  const result = await run(world, { id: 'root', ensure: { step: plan, ensure: publish } }, options);
  const output = world.catalog.outputs.filter((o) => o.name === name).at(-1);
  const volume = output === undefined ? undefined : await world.worker.lookupVolume(output.volumeHandle);
  return { ...result, files: volume === undefined ? undefined : await filesOf(volume) };
}

describe('get step', () => {
  it('fetches a mock version into the artifact, which a following task reads; metadata becomes a local var', async () => {
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        get('g', 'repo', 'mock', {
          version: { version: 'v1' },
          source: {
            create_files: { 'hello.txt': 'hi from mock', 'nested/data.json': { b: 2, a: 1 } },
            metadata: [{ name: 'author', value: 'alice' }],
          },
        }),
        shTask(
          't',
          'cat repo/version repo/hello.txt; echo; cat repo/nested/data.json; echo; echo "$AUTHOR"',
          {
            inputs: [{ name: 'repo' }],
            params: { AUTHOR: 'by ((.:repo.author))' },
          },
        ),
      ],
    });

    expect(outcome).toBe('succeeded');
    const trail = sink.trail();
    expect(trail.slice(0, 3)).toEqual(['initialize-get:g', 'start-get:g', 'selected-worker:g']);
    expect(trail.slice(trail.indexOf('finish-get:g'))[1]).toBe('initialize-task:t');
    expect(sink.events.find((e) => e.event === 'initialize-get')).toEqual({
      event: 'initialize-get',
      version: '2.0',
      data: { origin: { id: 'g' }, time: expect.any(Number) },
    });
    expect(sink.events.find((e) => e.event === 'start-get')?.version).toBe('1.0');
    expect(sink.events.find((e) => e.event === 'finish-get')).toEqual({
      event: 'finish-get',
      version: '5.1',
      data: {
        origin: { id: 'g' },
        time: expect.any(Number),
        exit_status: 0,
        version: { version: 'v1' },
        metadata: [{ name: 'author', value: 'alice' }],
      },
    });
    expect(sink.logOf('g', 'stderr')).toContain('fetching version: v1');
    expect(sink.logOf('g', 'stdout')).toBe('');
    expect(sink.logOf('t', 'stdout')).toBe('v1\nhi from mock\n{"a":1,"b":2}\nby alice\n');
  });

  it('runs `in` with the protocol: argv ".", its working directory the artifact, stdin JSON, step env', async () => {
    const recorded: FetchedVersion[] = [];
    const { outcome, files, sink } = await runAndCollect(
      get('g', 'repo', 'recorder', {
        resource: 'repo-resource',
        source: { uri: '((repo-uri))' },
        params: { depth: 1 },
        version: { ref: 'abc' },
      }),
      'repo',
      {
        build: {
          id: 42,
          name: '7',
          teamName: 'main',
          teamId: 1,
          pipelineId: 2,
          pipelineName: 'p',
          pipelineInstanceVars: { branch: 'main' },
          jobId: 3,
          jobName: 'unit',
          createdBy: 'someone',
        },
        externalUrl: 'http://ci.example.com',
        vars: {
          lookup: async (ref) =>
            ref.path === 'repo-uri' ? { value: 'https://example.com/r.git' } : undefined,
        },
        onGetVersion: (result) => void recorded.push(result),
      },
    );

    expect(outcome).toBe('succeeded');
    expect(files?.['argv']).toBe('.\n');
    expect(JSON.parse(files?.['request.json'] ?? '')).toEqual({
      source: { uri: 'https://example.com/r.git' },
      params: { depth: 1 },
      version: { ref: 'abc' },
    });
    const env = Object.fromEntries(
      (files?.['env'] ?? '')
        .split('\n')
        .filter((line) => line.startsWith('BUILD_') || line.startsWith('ATC_'))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(env).toEqual({
      ATC_EXTERNAL_URL: 'http://ci.example.com',
      BUILD_ID: '42',
      BUILD_NAME: '7',
      BUILD_TEAM_ID: '1',
      BUILD_TEAM_NAME: 'main',
      BUILD_JOB_ID: '3',
      BUILD_JOB_NAME: 'unit',
      BUILD_PIPELINE_ID: '2',
      BUILD_PIPELINE_NAME: 'p',
      BUILD_PIPELINE_INSTANCE_VARS: '{"branch":"main"}',
      BUILD_URL: 'http://ci.example.com/teams/main/pipelines/p/jobs/unit/builds/7?vars.branch=%22main%22',
      BUILD_URL_SHORT: 'http://ci.example.com/builds/42',
    });
    expect(sink.logOf('g', 'stderr')).toBe('fetching\n');
    // Where a web node collecting the step after a restart resumes its stderr: the raw bytes up to the event's end.
    expect(sink.events.filter((e) => e.event === 'log').map((e) => e.data['output_offset'])).toEqual([9]);
    expect(recorded).toEqual([
      {
        planId: 'g',
        name: 'repo',
        resourceName: 'repo-resource',
        type: 'recorder',
        source: { uri: 'https://example.com/r.git' },
        version: { ref: 'abc' },
        metadata: [{ name: 'm', value: 'x' }],
      },
    ]);
  });

  it('fails when `in` exits non-zero: finish-get has the exit status and a null version, nothing is registered', async () => {
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [get('g', 'repo', 'broken'), shTask('t', 'true', { inputs: [{ name: 'repo' }] })],
    });
    expect(outcome).toBe('failed');
    expect(sink.events.find((e) => e.event === 'finish-get')?.data).toEqual({
      origin: { id: 'g' },
      time: expect.any(Number),
      exit_status: 1,
      version: null,
    });
    expect(sink.logOf('g', 'stderr')).toBe('oops\n');
    expect(sink.errorsOf('g')).toEqual([]);
    expect(sink.trail()).not.toContain('initialize-task:t');

    // A later task that needs the artifact errors: the failed get registered nothing.
    const later = await run(world, {
      id: 'root',
      do: [
        { id: 'try', try: { step: get('g', 'repo', 'broken') } },
        shTask('t', 'true', { inputs: [{ name: 'repo' }] }),
      ],
    });
    expect(later.outcome).toBe('errored');
    expect(later.sink.errorsOf('t')).toEqual(['missing inputs: repo']);
  });

  it('errors on output that is not JSON, and on a null version', async () => {
    let result = await run(world, get('g', 'repo', 'garbage'));
    expect(result.outcome).toBe('errored');
    expect(result.sink.errorsOf('g')).toEqual(["invalid character 'o' looking for beginning of value"]);
    expect(result.sink.trail()).not.toContain('finish-get:g');

    result = await run(world, get('g', 'repo', 'null-version'));
    expect(result.outcome).toBe('errored');
    expect(result.sink.errorsOf('g')).toEqual([
      expect.stringMatching(/^resource script \(\/.*\/null-version\/in \.\) output a null version$/),
    ]);
  });

  it('errors on an unknown resource type, and on undefined vars in the source', async () => {
    let result = await run(world, get('g', 'repo', 'nope'));
    expect(result.outcome).toBe('errored');
    expect(result.sink.trail()).toEqual(['initialize-get:g', 'error:g']);
    expect(result.sink.errorsOf('g')).toEqual(["unknown resource type 'nope'"]);

    result = await run(
      world,
      get('g', 'repo', 'mock', { source: { uri: '((nowhere))', b: '((.:nothing))' } }),
    );
    expect(result.outcome).toBe('errored');
    expect(result.sink.errorsOf('g')).toEqual(['undefined vars: .:nothing, nowhere']);
  });

  it('fails with "timeout exceeded" when `in` outlives the timeout, killing it', async () => {
    const started = Date.now();
    const { outcome, sink } = await run(world, get('g', 'repo', 'slow', { timeout: '1s' }));
    expect(outcome).toBe('failed');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sink.errorsOf('g')).toEqual(['timeout exceeded']);
    expect(sink.trail()).not.toContain('finish-get:g');
  });

  it('is aborted with the build, killing `in`', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(world, get('g', 'repo', 'slow'), { signal: controller.signal, events: sink });
    await sink.waitFor((e) => e.event === 'log');
    controller.abort();
    expect((await running).outcome).toBe('aborted');
    expect(sink.errorsOf('g')).toEqual(['interrupted']);
  });

  it('fetches the version a previous step stored with version_from, and errors when there is none', async () => {
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        {
          id: 'p',
          put: { name: 'out', type: 'mock', source: {}, image: {}, params: { version: 'from-put' } },
        },
        get('ig', 'out', 'mock', { version_from: 'p' }),
        shTask('t', 'cat out/version', { inputs: [{ name: 'out' }] }),
      ],
    });
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('t', 'stdout')).toBe('from-put\n');

    const missing = await run(world, get('ig', 'out', 'mock', { version_from: 'never-ran' }));
    expect(missing.outcome).toBe('errored');
    expect(missing.sink.errorsOf('ig')).toEqual(['version is missing from previous step']);
  });

  it("tells a hook's gets the hooked step's status as BUILD_STATUS", async () => {
    const { outcome, files } = await runAndCollect(
      {
        id: 'h',
        on_failure: {
          step: shTask('s', 'exit 1'),
          on_failure: { id: 'd', do: [get('g', 'env', 'recorder')] },
        },
      },
      'env',
    );
    expect(outcome).toBe('failed');
    expect(files?.['env']).toContain('BUILD_STATUS=failed\n');

    const ensured = await runAndCollect(
      { id: 'h', ensure: { step: shTask('s', 'true'), ensure: get('g', 'env', 'recorder') } },
      'env',
    );
    expect(ensured.outcome).toBe('succeeded');
    expect(ensured.files?.['env']).not.toContain('BUILD_STATUS');
  });
});
