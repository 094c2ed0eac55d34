import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan, SetPipelinePlan } from '@jetbridge/plan';
import type { SetPipelineRequest, SetPipelineResult } from '../build-recorder.js';
import { run, startWorld, uploadArtifact, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
const PIPELINE = 'jobs:\n- name: ((job))\n  plan: []\n';
beforeAll(async () => {
  world = await startWorld();
  await uploadArtifact(world, 1, {
    'pipeline.yml': PIPELINE,
    'vars.yml': 'job: from-file\n',
    'dir/more.yml': 'x: 1\n',
  });
});
afterAll(async () => {
  await world.close();
});

function setPipeline(body: Partial<SetPipelinePlan>): Plan {
  return {
    id: 'root',
    do: [
      { id: 'in', artifact_input: { artifact_id: 1, name: 'ci' } },
      { id: 'sp', set_pipeline: { name: 'child', file: 'ci/pipeline.yml', ...body } },
    ],
  };
}

/** A setter that records requests, prints like Concourse and answers `result`. */
function setter(result: SetPipelineResult) {
  const requests: Array<Omit<SetPipelineRequest, 'stdout' | 'stderr'>> = [];
  return {
    requests,
    setPipeline: async ({ stdout, stderr, ...request }: SetPipelineRequest) => {
      requests.push(request);
      if ('invalid' in result) await stderr('invalid pipeline:\n- jobs: bad\n');
      else if (!result.changed) await stdout('no changes to apply.\n');
      else
        await stdout(
          `setting pipeline: ${request.pipelineName} with ${JSON.stringify(request.vars ?? {})}\ndone\n`,
        );
      return result;
    },
  };
}

describe('set_pipeline step', () => {
  it('hands the file, var files and interpolated vars to setPipeline, and reports the change', async () => {
    const { requests, setPipeline: set } = setter({ changed: true });
    const { outcome, sink } = await run(
      world,
      setPipeline({
        vars: { job: '((job-name))' },
        var_files: ['ci/vars.yml', 'ci/dir/more.yml'],
        instance_vars: { branch: 'main' },
        team: 'other',
      }),
      {
        setPipeline: set,
        vars: { lookup: async (ref) => (ref.path === 'job-name' ? { value: 'deploy' } : undefined) },
      },
    );
    expect(outcome).toBe('succeeded');
    expect(requests).toEqual([
      {
        planId: 'sp',
        build: { id: 42, name: '42', teamName: 'main' },
        pipelineName: 'child',
        teamName: 'other',
        instanceVars: { branch: 'main' },
        config: PIPELINE,
        vars: { job: 'deploy' },
        varFiles: [
          { path: 'ci/vars.yml', content: 'job: from-file\n' },
          { path: 'ci/dir/more.yml', content: 'x: 1\n' },
        ],
      },
    ]);
    expect(sink.trail().filter((e) => e.endsWith(':sp'))).toEqual([
      'initialize:sp',
      'start:sp',
      'log:sp',
      'set-pipeline-changed:sp',
      'finish:sp',
    ]);
    expect(sink.events.find((e) => e.event === 'set-pipeline-changed')).toEqual({
      event: 'set-pipeline-changed',
      version: '1.0',
      data: { origin: { id: 'sp' }, changed: true },
    });
    // The var's value came from the credential manager: redacted in the log.
    expect(sink.logOf('sp', 'stdout')).toBe('setting pipeline: child with {"job":"((redacted))"}\ndone\n');
  });

  it("sets `self`: the build's pipeline and instance vars, in the build's team", async () => {
    const { requests, setPipeline: set } = setter({ changed: false });
    const { outcome, sink } = await run(world, setPipeline({ name: 'self', team: 'ignored' }), {
      setPipeline: set,
      build: { id: 42, name: '3', teamName: 'main', pipelineName: 'parent', pipelineInstanceVars: { v: 1 } },
    });
    expect(outcome).toBe('succeeded');
    expect(requests[0]).toMatchObject({ pipelineName: 'parent', instanceVars: { v: 1 } });
    expect(requests[0]).not.toHaveProperty('teamName');
    expect(sink.events.find((e) => e.event === 'set-pipeline-changed')?.data['changed']).toBe(false);
    expect(sink.logOf('sp', 'stdout')).toBe('no changes to apply.\n');
  });

  it('fails on an invalid config, a name or team with a slash, and a missing var file', async () => {
    const invalid = await run(world, setPipeline({}), setter({ invalid: true }));
    expect(invalid.outcome).toBe('failed');
    expect(invalid.sink.trail()).not.toContain('set-pipeline-changed:sp');
    expect(invalid.sink.events.at(-1)?.data).toEqual({
      origin: { id: 'sp' },
      time: expect.any(Number),
      succeeded: false,
    });
    expect(invalid.sink.logOf('sp', 'stderr')).toBe('invalid pipeline:\n- jobs: bad\n');

    const slash = await run(world, setPipeline({ name: 'a/b' }), setter({ changed: true }));
    expect(slash.outcome).toBe('failed');
    expect(slash.sink.logOf('sp', 'stderr')).toBe("ERROR: pipeline name cannot contain '/'\n");
    expect(slash.sink.trail()).not.toContain('start:sp');

    const team = await run(world, setPipeline({ team: 'x/y' }), setter({ changed: true }));
    expect(team.sink.logOf('sp', 'stderr')).toBe("ERROR: team name cannot contain '/'\n");

    const varFile = await run(world, setPipeline({ var_files: ['ci/nope.yml'] }), setter({ changed: true }));
    expect(varFile.outcome).toBe('failed');
    expect(varFile.sink.logOf('sp', 'stderr')).toBe(
      "error parsing pipeline:\nfile 'nope.yml' not found within artifact 'ci'",
    );
  });

  it('errors on a missing pipeline file, a setter failure, and without a setter', async () => {
    const missing = await run(world, setPipeline({ file: 'ci/nope.yml' }), setter({ changed: true }));
    expect(missing.outcome).toBe('errored');
    expect(missing.sink.errorsOf('sp')).toEqual(["file 'nope.yml' not found within artifact 'ci'"]);

    const failing = await run(world, setPipeline({}), {
      setPipeline: () => Promise.reject(new Error("only main team can set another team's pipeline")),
    });
    expect(failing.outcome).toBe('errored');
    expect(failing.sink.errorsOf('sp')).toEqual(["only main team can set another team's pipeline"]);

    const none = await run(world, setPipeline({}));
    expect(none.outcome).toBe('errored');
    expect(none.sink.errorsOf('sp')).toEqual(['set_pipeline is not available in this build']);
  });
});
