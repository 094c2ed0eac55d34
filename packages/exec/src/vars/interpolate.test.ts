import { describe, expect, it } from '@jest/globals';
import {
  InvalidInterpolationError,
  UndefinedVarsError,
  interpolate,
  varNames,
  type VarLookup,
} from './interpolate.js';
import { staticVarsLookup } from './build-vars.js';
import { parseVarReference, varReferenceToString } from './var-reference.js';

const vars: Record<string, unknown> = {
  name: 'world',
  port: 8080,
  flag: true,
  creds: { user: 'u', 'dotted.key': 'd', nested: { deep: 'x' } },
  list: [1, 2],
};
const lookup = staticVarsLookup(vars);

describe('interpolate', () => {
  it('replaces whole values with their type, and embedded references with their text', async () => {
    const result = await interpolate(
      {
        whole: '((port))',
        map: '((creds))',
        text: 'hello ((name)) on ((port))',
        field: '((creds.user))/((creds."dotted.key"))/((creds.nested.deep))',
        list: ['((flag))', '((list))'],
        '((name))-key': 'v',
        untouched: 42,
      },
      lookup,
      { expectAllKeys: true },
    );
    expect(result).toEqual({
      whole: 8080,
      map: vars['creds'],
      text: 'hello world on 8080',
      field: 'u/d/x',
      list: [true, [1, 2]],
      'world-key': 'v',
      untouched: 42,
    });
  });

  it('lists every undefined var, sorted, when all must resolve; leaves them otherwise', async () => {
    const input = { a: '((zeta))', b: '((alpha.field))', c: 'x ((vault:path)) y', d: '((name))' };
    await expect(interpolate(input, lookup, { expectAllKeys: true })).rejects.toThrow(
      new UndefinedVarsError(['alpha.field', 'vault:path', 'zeta']),
    );
    expect(await interpolate(input, lookup, { expectAllKeys: false })).toEqual({ ...input, d: 'world' });
  });

  it('refuses a non-primitive inside a string, and fields of what is not a map', async () => {
    await expect(interpolate('x-((flag))', lookup, { expectAllKeys: true })).rejects.toThrow(
      new InvalidInterpolationError('flag', true),
    );
    await expect(interpolate('x-((creds))', lookup, { expectAllKeys: true })).rejects.toThrow(
      'cannot interpolate non-primitive value (map[string]interface {}) from var: creds',
    );
    await expect(interpolate('((name.field))', lookup, { expectAllKeys: true })).rejects.toThrow(
      "cannot access field 'field' of non-map value ('string') from var: name.field",
    );
    await expect(interpolate('((creds.nope))', lookup, { expectAllKeys: true })).rejects.toThrow(
      "missing field 'nope' in var: creds.nope",
    );
    await expect(interpolate('((a..b))', lookup, { expectAllKeys: true })).rejects.toThrow(
      "invalid var 'a..b': empty field",
    );
  });

  it('passes references to the lookup with their source', async () => {
    const seen: string[] = [];
    const recording: VarLookup = async (ref) => {
      seen.push(JSON.stringify(ref));
      return { found: true, value: 'v' };
    };
    await interpolate(['((.:local))', '((vault:"a.b".c))', '((plain))'], recording, { expectAllKeys: true });
    expect(seen).toEqual([
      '{"source":".","path":"local","fields":[]}',
      '{"source":"vault","path":"a.b","fields":["c"]}',
      '{"path":"plain","fields":[]}',
    ]);
    expect(varReferenceToString(parseVarReference('vault:"a.b".c'))).toBe('vault:"a.b".c');
    expect(varNames('((a)) and ((b:c.d)) but not (( e ))')).toEqual(['a', 'b:c.d']);
  });
});
