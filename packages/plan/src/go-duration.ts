// Go's `time.ParseDuration`, because step timeouts, cache TTLs and check intervals are Go durations
// ("1h30m", "10s", "500ms", "1.5h", "-2m"). Error messages are Go's, since users see them in build logs.

/** A string that `time.ParseDuration` would reject; the message is Go's. */
export class GoDurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoDurationError';
  }
}

const NANOSECONDS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `1<<63 - 1` nanoseconds: the largest duration. */
const MAX_NANOSECONDS = 9223372036854775807;

/**
 * Parse a Go duration and return it in milliseconds (fractional for sub-millisecond parts).
 *
 * @example parseGoDuration('1h30m') === 5_400_000
 * @throws GoDurationError with Go's message, e.g. `time: unknown unit "d" in duration "1d"`
 */
export function parseGoDuration(text: string): number {
  return parseGoDurationNanoseconds(text) / 1e6;
}

/** Parse a Go duration into nanoseconds (a float: precise enough for any timeout a build uses). */
export function parseGoDurationNanoseconds(text: string): number {
  const original = text;
  const invalid = (): GoDurationError => new GoDurationError(`time: invalid duration ${quote(original)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();

  let total = 0;
  while (rest !== '') {
    const number = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest);
    const whole = number?.[1] ?? '';
    const fraction = number?.[2];
    if (whole === '' && (fraction === undefined || fraction === '')) throw invalid();
    rest = rest.slice(number?.[0].length ?? 0);

    const unitMatch = /^[^0-9.]+/.exec(rest);
    if (unitMatch === null) throw new GoDurationError(`time: missing unit in duration ${quote(original)}`);
    const unit = unitMatch[0];
    rest = rest.slice(unit.length);
    const scale = NANOSECONDS_PER_UNIT[unit];
    if (scale === undefined) {
      throw new GoDurationError(`time: unknown unit ${quote(unit)} in duration ${quote(original)}`);
    }
    const value = Number(`${whole === '' ? '0' : whole}.${fraction ?? ''}`.replace(/\.$/, ''));
    total += value * scale;
    if (total > MAX_NANOSECONDS) throw invalid();
  }
  return negative ? -total : total;
}

function quote(text: string): string {
  return JSON.stringify(text);
}
