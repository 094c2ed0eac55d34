// @ts-check
// What every built-in resource script shares: the request JSON on stdin, the response JSON on stdout (as Go's
// json.Encoder writes it), and Go-style decoding errors and durations, so the scripts behave like the Go
// resources they stand in for.

/** A request or source field that cannot be decoded; the message is what the Go resource prints. */
export class DecodeError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** All of stdin, as text. */
export async function readStdin() {
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(/** @type {Buffer} */ (chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The first JSON value of `text`, as json.Decoder.Decode reads it; a DecodeError for empty input ("EOF") or
 * broken JSON.
 * @param {string} text
 * @returns {unknown}
 */
export function decodeFirstJson(text) {
  const start = text.search(/\S/);
  if (start < 0) throw new DecodeError('EOF');
  const first = /** @type {string} */ (text[start]);
  if (!/[[{"\-0-9tfn]/.test(first)) {
    throw new DecodeError(`invalid character '${first}' looking for beginning of value`);
  }
  let end = start;
  if (first === '{' || first === '[' || first === '"') {
    let depth = 0;
    let inString = false;
    for (; end < text.length; end++) {
      const char = text[end];
      if (inString) {
        if (char === '\\') end++;
        else if (char === '"') {
          inString = false;
          if (depth === 0) break;
        }
      } else if (char === '"') inString = true;
      else if (char === '{' || char === '[') depth++;
      else if (char === '}' || char === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (end >= text.length) throw new DecodeError('unexpected EOF');
    end++;
  } else {
    while (end < text.length && !/[\s,\]}[{"]/.test(/** @type {string} */ (text[end]))) end++;
  }
  try {
    return JSON.parse(text.slice(start, end));
  } catch (error) {
    throw new DecodeError(/** @type {Error} */ (error).message);
  }
}

/**
 * JSON as Go's json.Encoder writes it: `<`, `>` and `&` escaped, a newline at the end. Object members keep
 * their order (Go structs); pass `sortKeys` for Go maps.
 * @param {unknown} value
 * @param {{ sortKeys?: boolean }} [options]
 */
export function goJson(value, options = {}) {
  const prepared = options.sortKeys ? sortKeys(value) : value;
  return JSON.stringify(prepared).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** @param {unknown} value @returns {unknown} */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  /** @type {Record<string, unknown>} */
  const sorted = {};
  for (const key of Object.keys(value).sort())
    sorted[key] = sortKeys(/** @type {Record<string, unknown>} */ (value)[key]);
  return sorted;
}

/** Print the response on stdout. @param {unknown} value */
export function respond(value) {
  process.stdout.write(`${goJson(value)}\n`);
}

/** The JSON kind of a value, as Go's unmarshal errors name it. @param {unknown} value */
export function jsonKind(value) {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A member of a JSON object matched as Go does: the exact key, else case-insensitively.
 * @param {Record<string, unknown>} object
 * @param {string} key
 */
export function member(object, key) {
  if (Object.hasOwn(object, key)) return object[key];
  const folded = Object.keys(object).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
  return folded === undefined ? undefined : object[folded];
}

const UNIT_NS = /** @type {const} */ ({
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1000000n,
  s: 1000000000n,
  m: 60000000000n,
  h: 3600000000000n,
});

/**
 * Go's time.ParseDuration, in nanoseconds.
 * @param {string} text
 * @returns {bigint}
 */
export function parseGoDuration(text) {
  const invalid = () => new DecodeError(`time: invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw invalid();
  let total = 0;
  while (rest !== '') {
    const match = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (match === null) {
      if (/^[\d.]+/.test(rest))
        throw new DecodeError(`time: missing unit in duration ${JSON.stringify(text)}`);
      throw invalid();
    }
    const [whole, integer = '', fraction = '', unit] = match;
    if (integer === '' && fraction === '') throw invalid();
    total +=
      Number(`${integer || '0'}.${fraction || '0'}`) *
      Number(UNIT_NS[/** @type {keyof typeof UNIT_NS} */ (unit)]);
    rest = rest.slice(whole.length);
  }
  const ns = BigInt(Math.round(total));
  return negative ? -ns : ns;
}

/**
 * Go's Duration.String: `1h30m0s`, `1m0s`, `500ms`, `0s`.
 * @param {bigint} ns
 */
export function formatGoDuration(ns) {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  if (abs < 1000000000n) {
    const [unit, size] = abs < 1000n ? ['ns', 1n] : abs < 1000000n ? ['µs', 1000n] : ['ms', 1000000n];
    return `${sign}${decimal(abs, size)}${unit}`;
  }
  const hours = abs / 3600000000000n;
  const minutes = (abs / 60000000000n) % 60n;
  const seconds = decimal(abs % 60000000000n, 1000000000n);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** `value / size` with its fraction, trailing zeros dropped. @param {bigint} value @param {bigint} size */
function decimal(value, size) {
  const whole = value / size;
  const digits = String(size).length - 1;
  const fraction = String(value % size)
    .padStart(digits, '0')
    .replace(/0+$/, '');
  return fraction === '' ? `${whole}` : `${whole}.${fraction}`;
}

/** Sleep for `ns` nanoseconds. @param {bigint} ns */
export function sleep(ns) {
  return new Promise((resolve) => setTimeout(resolve, Number(ns / 1000000n)));
}
