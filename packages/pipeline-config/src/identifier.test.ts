import { describe, expect, it } from '@jest/globals';
import { validateIdentifier } from './identifier.js';

describe('validateIdentifier', () => {
  it('gives the warnings the API returns for a pipeline and team name', () => {
    expect(validateIdentifier('_pipeline', 'pipeline')).toEqual({
      warning: {
        type: 'invalid_identifier',
        message:
          "pipeline: '_pipeline' is not a valid identifier: must start with a lowercase letter or a number",
      },
    });
    expect(validateIdentifier('_team', 'team').warning?.message).toBe(
      "team: '_team' is not a valid identifier: must start with a lowercase letter or a number",
    );
  });

  it.each([
    ['main', undefined],
    ['my-pipeline_1.0', undefined],
    ['1st', undefined],
    ['ünïcödé', undefined],
    ['日本', undefined],
    ['Main', "x: 'Main' is not a valid identifier: must start with a lowercase letter or a number"],
    ['-x', "x: '-x' is not a valid identifier: must start with a lowercase letter or a number"],
    ['a/b', "x: 'a/b' is not a valid identifier: illegal character '/'"],
    ['aB', "x: 'aB' is not a valid identifier: illegal character 'B'"],
    ['a b:c', "x: 'a b:c' is not a valid identifier: illegal character ' '"],
    ['42', "x: '42' is not a valid identifier: cannot be just numbers"],
  ])('%s', (identifier, warning) => {
    expect(validateIdentifier(identifier, 'x').warning?.message).toBe(warning);
  });

  it('rejects the empty string', () => {
    expect(validateIdentifier('', 'jobs[0]')).toEqual({
      error: 'jobs[0]: identifier cannot be an empty string',
    });
  });

  it('skips task and set_pipeline names directly inside across', () => {
    expect(validateIdentifier('t-((.:x))', 'jobs.j', '.plan', '.across', '.task(t-((.:x)))')).toEqual({});
    expect(validateIdentifier('P', 'jobs.j', '.plan', '.across', '.set_pipeline(P)')).toEqual({});
    expect(validateIdentifier('G', 'jobs.j', '.plan', '.across', '.get(G)').warning).toBeDefined();
  });
});
