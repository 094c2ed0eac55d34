// Go's `time.Duration.String()`: Concourse stores `check_every` as a parsed duration and returns it in this
// canonical form ("1m" comes back as "1m0s").
import { parseGoDurationNanoseconds } from '@jetbridge/plan';

/** The canonical Go form of a duration string, e.g. `90s` → `1m30s`, `1h` → `1h0m0s`. */
export function canonicalGoDuration(text: string): string {
  return formatGoDuration(BigInt(Math.round(parseGoDurationNanoseconds(text))));
}

export function formatGoDuration(nanoseconds: bigint): string {
  if (nanoseconds === 0n) return '0s';
  const negative = nanoseconds < 0n;
  const u = negative ? -nanoseconds : nanoseconds;
  const sign = negative ? '-' : '';

  if (u < 1_000_000_000n) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${fraction(u, 3)}µs`;
    return `${sign}${fraction(u, 6)}ms`;
  }

  const seconds = fraction(u % 60_000_000_000n, 9);
  const totalMinutes = u / 60_000_000_000n;
  if (totalMinutes === 0n) return `${sign}${seconds}s`;
  const minutes = totalMinutes % 60n;
  const hours = totalMinutes / 60n;
  if (hours === 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value / 10^digits` with the fractional part's trailing zeros dropped. */
function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const rest = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return rest === '' ? `${whole}` : `${whole}.${rest}`;
}
