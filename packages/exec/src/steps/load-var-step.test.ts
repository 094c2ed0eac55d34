import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LoadVarPlan, Plan } from '@jetbridge/plan';
import { REDACTED } from '../redactor.js';
import { run, shTask, startWorld, uploadArtifact, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  await uploadArtifact(world, 1, {
    'v.json': '{"user": "bob", "password": "hunter22", "port": 5432, "nested": {"list": [1, 2]}}\n',
    'v.yml': 'user: alice\npassword: correct-horse\nenabled: yes\n',
    'v.txt': '  padded-secret  \n\n',
    'v.raw': 'raw-secret\n',
    'bad.json': '{"a": 1} {"b": 2}',
    'broken.json': '{"a": ',
    noext: '  trimmed  \n',
  });
});
afterAll(async () => {
  await world.close();
});

function loadVar(id: string, body: LoadVarPlan): Plan {
  return { id, load_var: body };
}

/** do[ the uploaded files as artifact `vars`, ...steps ] */
function withFiles(...steps: Plan[]): Plan {
  return { id: 'root', do: [{ id: 'in', artifact_input: { artifact_id: 1, name: 'vars' } }, ...steps] };
}

describe('load_var step', () => {
  it('loads JSON by extension; later steps read fields; string values are redacted in logs', async () => {
    const { outcome, sink } = await run(
      world,
      withFiles(
        loadVar('lv', { name: 'db', file: 'vars/v.json' }),
        shTask('t', 'echo "$USER_NAME:$PASSWORD@$PORT"; echo "$WHOLE"', {
          params: {
            USER_NAME: '((.:db.user))',
            PASSWORD: '((.:db.password))',
            PORT: 'port ((.:db.port))',
            WHOLE: '((.:db.nested))',
          },
        }),
      ),
    );
    expect(outcome).toBe('succeeded');
    expect(sink.trail().filter((e) => e.endsWith(':lv'))).toEqual([
      'initialize:lv',
      'start:lv',
      'log:lv',
      'log:lv',
      'finish:lv',
    ]);
    expect(sink.logOf('lv', 'stdout')).toBe('var db fetched.\nadded var db to build.\n');
    expect(sink.events.find((e) => e.event === 'finish')?.data).toEqual({
      origin: { id: 'lv' },
      time: expect.any(Number),
      succeeded: true,
    });
    // The map var is decoded into the env as JSON-ish text by the task config decoder.
    expect(sink.logOf('t', 'stdout')).toBe(`${REDACTED}:${REDACTED}@port 5432\n{"list":[1,2]}\n`);
  });

  it('loads YAML (1.1), trimmed and raw text; `reveal` keeps a value visible', async () => {
    const { outcome, sink } = await run(
      world,
      withFiles(
        loadVar('y', { name: 'y', file: 'vars/v.yml' }),
        loadVar('t', { name: 't', file: 'vars/v.txt' }),
        loadVar('r', { name: 'r', file: 'vars/v.raw', format: 'raw', reveal: true }),
        loadVar('n', { name: 'n', file: 'vars/noext' }),
        loadVar('j', { name: 'j', file: 'vars/v.yml', format: 'trim' }),
        shTask('task', 'printf "%s|%s|%s|%s|%s|%s" "$A" "$B" "$C" "$D" "$E" "$F"', {
          params: {
            A: '((.:y.user))',
            B: '((.:y.password))',
            C: '((.:y.enabled))',
            D: '[((.:t))]',
            E: '((.:r))',
            F: '((.:n))',
          },
        }),
      ),
    );
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('task', 'stdout')).toBe(
      `${REDACTED}|${REDACTED}|true|[${REDACTED}]|raw-secret\n|${REDACTED}`,
    );
  });

  it('errors on a path without artifact, an unknown artifact or file, a bad format, and unparsable content', async () => {
    const cases: Array<[LoadVarPlan, string]> = [
      [{ name: 'v', file: 'v.json' }, "file 'v.json' does not specify where the file lives"],
      [{ name: 'v', file: 'nope/v.json' }, "unknown artifact source: 'nope' in file path 'v.json'"],
      [{ name: 'v', file: 'vars/missing.json' }, "file 'missing.json' not found within artifact 'vars'"],
      [{ name: 'v', file: 'vars/v.json', format: 'toml' }, 'invalid format toml'],
      [
        { name: 'v', file: 'vars/bad.json' },
        'failed to parse vars/bad.json in format json: invalid json: characters found after top-level value',
      ],
      [
        { name: 'v', file: 'vars/broken.json' },
        'failed to parse vars/broken.json in format json: unexpected EOF',
      ],
    ];
    for (const [body, message] of cases) {
      const { outcome, sink } = await run(world, withFiles(loadVar('lv', body)));
      expect([outcome, sink.errorsOf('lv')]).toEqual(['errored', [message]]);
    }
  });

  it('interpolates the file path but not the name', async () => {
    const { outcome, sink } = await run(
      world,
      withFiles(
        loadVar('first', { name: 'which', file: 'vars/noext', reveal: true }),
        loadVar('lv', { name: 'v', file: 'vars/((.:which)).ignored' }),
      ),
    );
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('lv')).toEqual(["file 'trimmed.ignored' not found within artifact 'vars'"]);
  });
});
