import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GoDurationError, parseGoDuration, parseGoDurationNanoseconds } from './go-duration.js';

describe('parseGoDuration', () => {
  it('parses what time.ParseDuration parses', () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('10s')).toBe(10_000);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('-2m')).toBe(-120_000);
    expect(parseGoDuration('+3s')).toBe(3000);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('.5s')).toBe(500);
    expect(parseGoDuration('1.s')).toBe(1000);
    expect(parseGoDurationNanoseconds('1h2m3s4ms5us6ns')).toBe(3_723_004_005_006);
    expect(parseGoDurationNanoseconds('7µs')).toBe(7000);
    expect(parseGoDurationNanoseconds('7μs')).toBe(7000);
  });

  it("rejects what Go rejects, with Go's messages", () => {
    const message = (text: string): string => {
      try {
        parseGoDuration(text);
      } catch (error) {
        expect(error).toBeInstanceOf(GoDurationError);
        return (error as Error).message;
      }
      throw new Error(`${text} parsed`);
    };
    expect(message('')).toBe('time: invalid duration ""');
    expect(message('1')).toBe('time: missing unit in duration "1"');
    expect(message('1d')).toBe('time: unknown unit "d" in duration "1d"');
    expect(message('h')).toBe('time: invalid duration "h"');
    expect(message('.s')).toBe('time: invalid duration ".s"');
    expect(message('1h-2m')).toBe('time: unknown unit "h-" in duration "1h-2m"');
    expect(message('3000000h')).toBe('time: invalid duration "3000000h"');
  });

  it('adds up its components', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        expect(parseGoDuration(`${h}h${m}m${s}s${ms}ms`)).toBe(((h * 60 + m) * 60 + s) * 1000 + ms);
      }),
    );
  });
});
