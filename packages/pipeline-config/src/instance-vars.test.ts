import { describe, expect, it } from '@jest/globals';
import { formatGoDuration, canonicalGoDuration } from './go-duration-format.js';
import {
  InstanceVarsQueryError,
  instanceVarsFromQueryParams,
  instanceVarsToQueryParams,
  instanceVarsToString,
  parseVarReference,
  pipelineRefToString,
} from './instance-vars.js';

describe('instance vars', () => {
  it('display as flattened, sorted key:value pairs, quoting only when needed', () => {
    expect(
      instanceVarsToString({
        branch: 'main',
        version: { major: 1, tag: 'v1.0' },
        'with.dot': 'x',
        path: 'feature/x',
        flag: true,
        number_like: '123',
        empty: '',
      }),
    ).toBe(
      // sorted by reference text, so a quoted reference comes first
      '"with.dot":x,branch:main,empty:"",flag:true,number_like:"123",path:"feature/x",version.major:1,version.tag:v1.0',
    );
  });

  it('name a pipeline with its instance vars', () => {
    expect(pipelineRefToString('p')).toBe('p');
    expect(pipelineRefToString('p', { branch: 'main' })).toBe('p/branch:main');
  });

  it('convert to and from vars.* query parameters', () => {
    const instanceVars = { branch: 'main', version: { major: 1 } };
    const params = instanceVarsToQueryParams(instanceVars);
    expect(params).toEqual([
      ['vars.branch', '"main"'],
      ['vars.version.major', '1'],
    ]);
    expect(instanceVarsFromQueryParams(new URLSearchParams(params))).toEqual(instanceVars);
  });

  it('apply vars.x patches over a vars={...} object', () => {
    const query = new URLSearchParams([
      ['vars.b.c', '2'],
      ['vars', '{"a":"x","b":{"c":1,"d":3}}'],
      ['other', '1'],
    ]);
    expect(instanceVarsFromQueryParams(query)).toEqual({ a: 'x', b: { c: 2, d: 3 } });
    expect(instanceVarsFromQueryParams(new URLSearchParams('team=main'))).toBeUndefined();
  });

  it('report malformed parameters', () => {
    expect(() => instanceVarsFromQueryParams(new URLSearchParams('vars.a=nope'))).toThrow(
      InstanceVarsQueryError,
    );
    expect(() => instanceVarsFromQueryParams(new URLSearchParams('vars..a=1'))).toThrow(
      "invalid var 'vars..a': empty field",
    );
  });

  it('parse var references with sources and quoted fields', () => {
    expect(parseVarReference('vault:"my.secret".field')).toEqual({
      source: 'vault',
      path: 'my.secret',
      fields: ['field'],
    });
  });
});

describe('Go durations', () => {
  it.each([
    ['90s', '1m30s'],
    ['1h', '1h0m0s'],
    ['1.5h', '1h30m0s'],
    ['10m', '10m0s'],
    ['1500ms', '1.5s'],
    ['250ms', '250ms'],
    ['2us', '2µs'],
    ['-1m', '-1m0s'],
    ['0', '0s'],
  ])('%s is written %s', (input, canonical) => {
    expect(canonicalGoDuration(input)).toBe(canonical);
  });

  it('formats nanoseconds', () => {
    expect(formatGoDuration(1n)).toBe('1ns');
    expect(formatGoDuration(90_061_000_000_000n)).toBe('25h1m1s');
  });
});
