import { describe, expect, it } from '@jest/globals';
import { validateIdentifier } from './identifier.js';

// Cases from Concourse's atc/configwarning_test.go.
describe('validateIdentifier', () => {
  it.each(['something', 'ひらがな', 'some_thing', '1something', '1_min', 'a.b-c'])('accepts %s', (name) => {
    expect(validateIdentifier(name, 'team')).toBeUndefined();
  });

  it.each([
    ['-something', 'must start with a lowercase letter or a number'],
    ['.something', 'must start with a lowercase letter or a number'],
    ['Something', 'must start with a lowercase letter or a number'],
    ['some thing', "illegal character ' '"],
    ['someThing', "illegal character 'T'"],
    ['123', 'cannot be just numbers'],
  ])('warns about %s', (name, reason) => {
    expect(validateIdentifier(name, 'team')).toEqual({
      warning: {
        type: 'invalid_identifier',
        message: `team: '${name}' is not a valid identifier: ${reason}`,
      },
    });
  });

  it('gives the exact message of the set-pipeline example', () => {
    expect(validateIdentifier('_team', 'team')).toEqual({
      warning: {
        type: 'invalid_identifier',
        message: "team: '_team' is not a valid identifier: must start with a lowercase letter or a number",
      },
    });
  });

  it('refuses an empty name', () => {
    expect(validateIdentifier('', 'team')).toEqual({ error: 'team: identifier cannot be an empty string' });
  });
});
