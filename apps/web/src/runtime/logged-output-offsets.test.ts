import { describe, expect, it } from '@jest/globals';
import { completeUtf8Length } from './logged-output-offsets.js';

describe('completeUtf8Length', () => {
  it('stops before a character cut at the end, whatever its size and wherever the cut', () => {
    const text = 'a é 日 🎉';
    const bytes = Buffer.from(text);
    for (let end = 0; end <= bytes.length; end++) {
      const head = bytes.subarray(0, end);
      const whole = completeUtf8Length(head);
      // Decoding up to there loses nothing: it is a prefix of the text made of whole characters.
      expect(text.startsWith(head.subarray(0, whole).toString('utf8'))).toBe(true);
      expect(Buffer.from(head.subarray(0, whole).toString('utf8'))).toEqual(head.subarray(0, whole));
      // And only an unfinished character (at most 3 bytes) is held back.
      expect(end - whole).toBeLessThan(4);
      expect(whole === end || !text.startsWith(head.toString('utf8'))).toBe(true);
    }
  });

  it('holds nothing back of ASCII or of bytes that can never become a character', () => {
    expect(completeUtf8Length(Buffer.from('plain\n'))).toBe(6);
    expect(completeUtf8Length(Buffer.from([0x41, 0x80, 0x80, 0x80, 0x80]))).toBe(5);
    expect(completeUtf8Length(Buffer.alloc(0))).toBe(0);
  });
});
