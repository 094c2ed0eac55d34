// `((var))` interpolation in a running build: task configs and resource sources/params resolved from the
// credential manager (a VarsResolver) and local vars, every resolved secret redacted from logs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REDACTED } from '../redactor.js';
import { run, shTask, startWorld, uploadArtifact, type TestWorld } from '../test-fixtures.js';
import type { VarsResolver } from './build-vars.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  await uploadArtifact(world, 1, {
    'task.yml': [
      'platform: linux',
      'params: {FROM_FILE: ((file-var)), CRED: ((db.password))}',
      'run: {path: sh, args: [-c, "echo $FROM_FILE $CRED"]}',
    ].join('\n'),
  });
});
afterAll(async () => {
  await world.close();
});

/** A credential manager holding `secrets`, recording the references asked for. */
function credentials(secrets: Record<string, unknown>): VarsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup: async (ref) => {
      asked.push(`${ref.source === undefined ? '' : `${ref.source}:`}${ref.path}`);
      return Object.hasOwn(secrets, ref.path) ? { value: secrets[ref.path] } : undefined;
    },
  };
}

describe('vars in a build', () => {
  it("interpolates a task's config from the credential manager and redacts the values in its output", async () => {
    const creds = credentials({ db: { user: 'admin', password: 'p4ssw0rd-value' }, greeting: 'hello' });
    const { outcome, sink } = await run(
      world,
      shTask('t', 'echo "((greeting)) $USER_NAME $PASSWORD"; echo "p4ssw0rd-value" >&2', {
        params: { USER_NAME: '((db.user))', PASSWORD: '((db.password))' },
      }),
      { vars: creds },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('t', 'stdout')).toBe(`${REDACTED} ${REDACTED} ${REDACTED}\n`);
    expect(sink.logOf('t', 'stderr')).toBe(`${REDACTED}\n`);
    // The command line shown in task events is redacted too.
    const start = sink.events.find((e) => e.event === 'start-task');
    expect(JSON.stringify(start?.data['config'])).toContain(`echo \\"${REDACTED} $USER_NAME $PASSWORD\\"`);
  });

  it("renders a task file with the step's vars first, then the build's vars", async () => {
    const creds = credentials({ db: { password: 'file-secret' } });
    const { outcome, sink } = await run(
      world,
      {
        id: 'root',
        do: [
          { id: 'in', artifact_input: { artifact_id: 1, name: 'ci' } },
          {
            id: 't',
            task: {
              name: 't',
              privileged: false,
              hermetic: false,
              config_path: 'ci/task.yml',
              vars: { 'file-var': 42 },
            },
          },
        ],
      },
      { vars: creds },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('t', 'stdout')).toBe(`42 ${REDACTED}\n`);
  });

  it('errors a task whose config has undefined vars, naming them', async () => {
    const { outcome, sink } = await run(world, shTask('t', 'echo ((nope)) ((.:local))'), {
      vars: credentials({}),
    });
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('t')).toEqual(['failed to interpolate task config: undefined vars: .:local, nope']);
  });

  it('errors when the credential manager fails', async () => {
    const failing: VarsResolver = { lookup: () => Promise.reject(new Error('vault is sealed')) };
    const { outcome, sink } = await run(world, shTask('t', 'echo ((x))'), { vars: failing });
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('t')).toEqual(['failed to interpolate task config: vault is sealed']);
  });

  it('looks a `.` var the build does not have up in the credential manager', async () => {
    const creds = credentials({ fallback: 'from-creds' });
    const { outcome, sink } = await run(world, shTask('t', 'echo ((.:fallback))'), { vars: creds });
    expect(outcome).toBe('succeeded');
    expect(creds.asked).toEqual(['.:fallback']);
    expect(sink.logOf('t', 'stdout')).toBe(`${REDACTED}\n`);
  });

  it("interpolates a get's source and params, and redacts secrets in the resource's output", async () => {
    const creds = credentials({ token: 'tok-123456' });
    const { outcome, sink } = await run(
      world,
      {
        id: 'g',
        get: {
          name: 'r',
          type: 'mock',
          source: { log: 'using ((token))', create_files: { 'token.txt': '((token))' } },
          params: { create_files_via_params: { 'p.txt': 'p-((token))' } },
          image: {},
          version: { version: 'v' },
        },
      },
      { vars: creds },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('g', 'stderr')).toContain(`using ${REDACTED}`);
    expect(sink.logOf('g', 'stderr')).not.toContain('tok-123456');
  });
});
