import { describe, expect, it } from '@jest/globals';
import { compileJobGlob } from './job-glob.js';
import { goPathMatch } from './path-match.js';

describe('compileJobGlob (gobwas/glob, group jobs)', () => {
  it.each([
    ['*', 'anything/at all', true],
    ['deploy-*', 'deploy-prod', true],
    ['deploy-*', 'build', false],
    ['deploy-{dev,staging}', 'deploy-staging', true],
    ['deploy-{dev,staging}', 'deploy-prod', false],
    ['{a,b{1,2}}-x', 'b2-x', true],
    ['unit-?', 'unit-a', true],
    ['unit-?', 'unit-ab', false],
    ['[abc]-job', 'b-job', true],
    ['[!abc]-job', 'b-job', false],
    ['[a-c]-job', 'c-job', true],
    ['\\*', '*', true],
    ['a,b', 'a,b', true],
    ['job.1', 'jobx1', false],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(compileJobGlob(pattern)?.(name)).toBe(expected);
  });

  it.each(['[z-a]', '[abc', '[]', 'trailing\\', '[a-cx]'])('rejects %s', (pattern) => {
    expect(compileJobGlob(pattern)).toBeUndefined();
  });
});

describe('goPathMatch (path.Match, passed: globs)', () => {
  it.each([
    ['unit', 'unit', true],
    ['unit-*', 'unit-linux', true],
    ['*', 'a/b', false],
    ['unit-?', 'unit-1', true],
    ['[^a]x', 'bx', true],
    ['[^a]x', 'ax', false],
    ['[a-c]x', 'bx', true],
    ['\\*', '*', true],
    ['[', '[', false],
    ['[]a]', 'a', false],
    ['a\\', 'a', false],
    ['{a,b}', 'a', false],
    ['{a,b}', '{a,b}', true],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(goPathMatch(pattern, name)).toBe(expected);
  });
});
