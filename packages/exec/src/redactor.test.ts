import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { REDACTED, Redactor } from './redactor.js';

describe('Redactor', () => {
  it('replaces every trimmed line longer than one character of every secret', () => {
    const redactor = new Redactor(['hunter2', '  line-one \nline-two\nx\n', '']);
    expect(redactor.redact('pw=hunter2 and hunter2')).toBe(`pw=${REDACTED} and ${REDACTED}`);
    expect(redactor.redact('a line-one b line-two c x')).toBe(`a ${REDACTED} b ${REDACTED} c x`);
    expect(new Redactor([]).redact('nothing')).toBe('nothing');
  });

  it('replaces a secret that contains another one whole', () => {
    expect(new Redactor(['abc', 'xxabcxx']).redact('-xxabcxx-abc-')).toBe(`-${REDACTED}-${REDACTED}-`);
  });

  it('cuts unfinished text only where no secret can be split', () => {
    const redactor = new Redactor(['secret', 'cdxy']);
    expect(redactor.safeCut('hello sec')).toBe(6);
    expect(redactor.safeCut('hello secret')).toBe(12);
    expect(redactor.safeCut('hello')).toBe(5);
    // "cd" could start "cdxy", but it ends the whole secret "abcd"... with "abcd" a secret, never cut inside it.
    expect(new Redactor(['abcd', 'cdxy']).safeCut('zzabcd')).toBe(2);
  });

  it('never lets a secret through, however the text is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 2, maxLength: 6, unit: fc.constantFrom('a', 'b', 'c') }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.string({ maxLength: 40, unit: fc.constantFrom('a', 'b', 'c', ' ') }),
        (secrets, text) => {
          const redactor = new Redactor(secrets);
          const cut = redactor.safeCut(text);
          // The placeholder itself may spell a secret ("redacted" contains "ac"): look between placeholders.
          const shown = redactor.redact(text.slice(0, cut)).split(REDACTED);
          for (const secret of secrets) {
            for (const piece of shown) expect(piece.includes(secret)).toBe(false);
          }
          // Whatever comes next, no secret can start before the cut and end after it.
          for (const secret of secrets) {
            for (let start = 0; start < cut; start++) {
              const rest = text.slice(start);
              expect(rest.length < secret.length && secret.startsWith(rest)).toBe(false);
            }
          }
          expect(cut).toBeLessThanOrEqual(text.length);
        },
      ),
    );
  });
});
