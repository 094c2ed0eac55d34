// @ts-check
// The `time` resource type (concourse/time-resource): versions `{"time": RFC 3339}` on an interval, within
// an optional daily `start`–`stop` range, on chosen `days`, in a `location`, not before `start_after`.
//
// check returns the given version, plus the current time when a new version is due (TimeLord.Check), or with
// `initial_version` and no given version just the current time. in writes `input` (the request),
// `timestamp` and `epoch`. out returns the current time.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  UTC,
  addDays,
  date,
  formatRfc3339Nano,
  formatTimestamp,
  inLocation,
  loadLocation,
  locationName,
  now,
  parseRfc3339,
  unixSeconds,
  wallClock,
} from './go-time.js';
import {
  DecodeError,
  decodeFirstJson,
  formatGoDuration,
  goJson,
  isObject,
  jsonKind,
  member,
  parseGoDuration,
  readStdin,
  respond,
} from './protocol.js';

/**
 * @typedef {import('./go-time.js').GoTime} GoTime
 * @typedef {import('./go-time.js').Location} Location
 * @typedef {{ hour: number, minute: number }} TimeOfDay
 * @typedef {{ year: number, month: number, day: number, hour: number, minute: number, second: number }} DateTime
 * @typedef {{
 *   initialVersion: boolean, interval?: bigint, start?: TimeOfDay, stop?: TimeOfDay, days: number[],
 *   location?: Location, startAfter?: DateTime,
 * }} Source
 */

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const TIME_FORMATS = [
  '3:04 PM -0700',
  '3PM -0700',
  '3 PM -0700',
  '15:04 -0700',
  '1504 -0700',
  '3:04 PM',
  '3PM',
  '3 PM',
  '15:04',
  '1504',
];
const DATE_TIME_FORMATS = [
  '2006-01-02T15:04:05',
  '2006-01-02T15:04',
  '2006-01-02T15',
  '2006-01-02',
  '2006-01-02 15:04:05',
];

/** @param {unknown} value @param {string} goType */
function expectString(value, goType = 'string') {
  if (typeof value !== 'string')
    throw new DecodeError(`json: cannot unmarshal ${jsonKind(value)} into Go value of type ${goType}`);
  return value;
}

/** models.TimeOfDay: one of TIME_FORMATS; an offset moves it to UTC. @param {unknown} raw @returns {TimeOfDay} */
function parseTimeOfDay(raw) {
  const text = expectString(raw);
  const patterns = [
    /^(\d{1,2}):(\d{2}) (AM|PM)(?: ([+-]\d{4}))?$/,
    /^(\d{1,2})()(AM|PM)(?: ([+-]\d{4}))?$/,
    /^(\d{1,2})() (AM|PM)(?: ([+-]\d{4}))?$/,
    /^(\d{1,2}):(\d{2})()(?: ([+-]\d{4}))?$/,
    /^(\d{2})(\d{2})()(?: ([+-]\d{4}))?$/,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(text);
    if (match === null) continue;
    const [, h = '0', m = '', meridiem = '', offset = ''] = match;
    let hour = Number(h);
    const minute = m === '' ? 0 : Number(m);
    if (meridiem !== '') {
      if (hour > 12) continue;
      if (meridiem === 'PM' && hour < 12) hour += 12;
      if (meridiem === 'AM' && hour === 12) hour = 0;
    } else if (hour > 23) continue;
    if (minute > 59) continue;
    let minutes = hour * 60 + minute;
    if (offset !== '') {
      const sign = offset.startsWith('-') ? -1 : 1;
      minutes -= sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5)));
      minutes = ((minutes % 1440) + 1440) % 1440;
    }
    return { hour: Math.floor(minutes / 60), minute: minutes % 60 };
  }
  throw new DecodeError(`invalid time format: ${text}, must be one of: ${TIME_FORMATS.join(', ')}`);
}

/** models.StartAfter: a wall-clock date and time. @param {unknown} raw @returns {DateTime} */
function parseStartAfter(raw) {
  const text = expectString(raw);
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?$/.exec(text);
  // The space form needs seconds (2006-01-02 15:04:05), the T forms need at least the hour.
  const valid = match !== null && (!text.includes(' ') || match[6] !== undefined);
  if (!valid || match === null) {
    throw new DecodeError(`invalid date format: ${text}, must be one of: ${DATE_TIME_FORMATS.join(', ')}`);
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = match;
  return {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s),
  };
}

/** @param {unknown} raw @returns {number} */
function parseWeekday(raw) {
  const text = expectString(raw);
  const index = WEEKDAYS.findIndex(
    (day) => day.toLowerCase() === text.toLowerCase() || day.slice(0, 3).toLowerCase() === text.toLowerCase(),
  );
  if (index < 0) throw new DecodeError(`unknown weekday: ${text}`);
  return index;
}

/** Decode the source as the Go models.Source does (unknown fields are ignored). @param {unknown} raw @returns {Source} */
function decodeSource(raw) {
  /** @type {Source} */
  const source = { initialVersion: false, days: [] };
  if (raw === null || raw === undefined) return source;
  if (!isObject(raw))
    throw new DecodeError(
      `json: cannot unmarshal ${jsonKind(raw)} into Go struct field of type models.Source`,
    );
  /** @param {string} key */
  const field = (key) => {
    const value = member(raw, key);
    return value === null ? undefined : value;
  };
  const initial = field('initial_version');
  if (initial !== undefined) {
    if (typeof initial !== 'boolean')
      throw new DecodeError(
        `json: cannot unmarshal ${jsonKind(initial)} into Go struct field Source.source.initial_version of type bool`,
      );
    source.initialVersion = initial;
  }
  const interval = field('interval');
  if (interval !== undefined) source.interval = parseGoDuration(expectString(interval));
  const start = field('start');
  if (start !== undefined) source.start = parseTimeOfDay(start);
  const stop = field('stop');
  if (stop !== undefined) source.stop = parseTimeOfDay(stop);
  const days = field('days');
  if (days !== undefined) {
    if (!Array.isArray(days))
      throw new DecodeError(
        `json: cannot unmarshal ${jsonKind(days)} into Go struct field Source.source.days of type []models.Weekday`,
      );
    source.days = days.map(parseWeekday);
  }
  const location = field('location');
  if (location !== undefined) source.location = loadLocation(expectString(location));
  const startAfter = field('start_after');
  if (startAfter !== undefined) source.startAfter = parseStartAfter(startAfter);
  return source;
}

/** The request's version time, or undefined for Go's zero time. @param {unknown} raw */
function decodeVersionTime(raw) {
  if (!isObject(raw)) return undefined;
  const time = member(raw, 'time');
  if (time === undefined || time === null) return undefined;
  const parsed = parseRfc3339(expectString(time, 'time.Time'));
  return parsed.ns === -62135596800000000000n ? undefined : parsed;
}

/** @param {Source} source */
function validate(source) {
  if ((source.start !== undefined) !== (source.stop !== undefined)) {
    throw new Error(
      source.start !== undefined
        ? "must configure 'stop' if 'start' is set"
        : "must configure 'start' if 'stop' is set",
    );
  }
}

/**
 * TimeLord.LatestRangeBefore: today's `start`–`stop` range in the location (yesterday's when `start` is
 * still ahead), `stop` the next day when it is not after `start`.
 * @param {Source} source @param {GoTime} reference
 */
function latestRangeBefore(source, reference) {
  const loc = source.location ?? UTC;
  const startTod = source.start ?? { hour: 0, minute: 0 };
  const stopTod = source.stop ?? { hour: 0, minute: 0 };
  const ref = wallClock(inLocation(reference, loc));
  let start = date(ref.year, ref.month, ref.day, startTod.hour, startTod.minute, 0, loc);
  if (start.ns > reference.ns) start = addDays(start, -1);
  const startWall = wallClock(start);
  let stop = date(startWall.year, startWall.month, startWall.day, stopTod.hour, stopTod.minute, 0, loc);
  if (stop.ns <= start.ns) stop = addDays(stop, 1);
  return { start, stop };
}

/** TimeLord.Check: whether a new version is due at `current`. @param {Source} source @param {GoTime | undefined} previous @param {GoTime} current */
export function isDue(source, previous, current) {
  const loc = source.location ?? UTC;
  const { start, stop } = latestRangeBefore(source, current);
  if (source.days.length > 0 && !source.days.includes(wallClock(inLocation(current, loc)).weekday))
    return false;
  if (source.startAfter !== undefined) {
    const sa = source.startAfter;
    const startAfter = date(sa.year, sa.month, sa.day, sa.hour, sa.minute, sa.second, loc);
    if (!(startAfter.ns < current.ns)) return false;
  }
  if (current.ns < start.ns || current.ns >= stop.ns) return false;
  if (previous === undefined) return true;
  if (source.interval !== undefined) return current.ns - previous.ns >= source.interval;
  return previous.ns < start.ns;
}

/** The current time in the source's location. @param {Source} source */
function currentTime(source) {
  return inLocation(now(), source.location ?? UTC);
}

/** @param {GoTime} time */
function versionOf(time) {
  return { time: formatRfc3339Nano(time) };
}

/** @param {unknown} raw */
export function check(raw) {
  const request = isObject(raw) ? raw : {};
  const source = decodeSource(member(request, 'source'));
  const previous = decodeVersionTime(member(request, 'version'));
  validate(source);
  const current = currentTime(source);
  const versions = [];
  if (previous !== undefined) versions.push(versionOf(previous));
  else if (source.initialVersion) return [versionOf(current)];
  if (isDue(source, previous, current)) versions.push(versionOf(current));
  return versions;
}

/** @param {unknown} raw @param {string} destination */
export async function get(raw, destination) {
  const request = isObject(raw) ? raw : {};
  const source = decodeSource(member(request, 'source'));
  const versionTime = decodeVersionTime(member(request, 'version'));
  await mkdir(destination, { recursive: true, mode: 0o755 });
  // The request as the Go resource re-encodes it.
  const input = {
    source: encodeSource(source),
    version: { time: versionTime === undefined ? '0001-01-01T00:00:00Z' : formatRfc3339Nano(versionTime) },
  };
  await writeFile(path.join(destination, 'input'), `${goJson(input)}\n`);
  const time = versionTime ?? now();
  await writeFile(path.join(destination, 'timestamp'), formatTimestamp(time));
  await writeFile(path.join(destination, 'epoch'), String(unixSeconds(time)));
  return { version: versionOf(time), metadata: null };
}

/** @param {unknown} raw */
export function put(raw) {
  const request = isObject(raw) ? raw : {};
  const source = decodeSource(member(request, 'source'));
  return { version: versionOf(currentTime(source)), metadata: null };
}

/** models.Source marshalled back, fields in struct order. @param {Source} source */
function encodeSource(source) {
  /** @param {TimeOfDay | undefined} tod */
  const timeOfDay = (tod) =>
    tod === undefined ? null : `${tod.hour}:${String(tod.minute).padStart(2, '0')}`;
  const sa = source.startAfter;
  const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, '0');
  return {
    initial_version: source.initialVersion,
    interval: source.interval === undefined ? null : formatGoDuration(source.interval),
    start: timeOfDay(source.start),
    stop: timeOfDay(source.stop),
    days: source.days.length === 0 ? null : source.days.map((day) => WEEKDAYS[day]),
    location: source.location === undefined ? null : locationName(source.location),
    start_after:
      sa === undefined
        ? null
        : `${pad(sa.year, 4)}-${pad(sa.month)}-${pad(sa.day)}T${pad(sa.hour)}:${pad(sa.minute)}:${pad(sa.second)}`,
  };
}

/**
 * Run one of the scripts: `script` is `check`, `in` or `out`; argv[2] is the destination for `in`. Errors
 * end the script with status 1 and the Go resource's message on stderr.
 * @param {'check' | 'in' | 'out'} script
 */
export async function main(script) {
  if (script === 'in' && process.argv[2] === undefined) {
    process.stderr.write(`usage: ${process.argv[1] ?? 'in'} <destination>\n`);
    process.exit(1);
  }
  let raw;
  try {
    raw = decodeFirstJson(await readStdin());
  } catch (error) {
    return fail(`parse error: ${/** @type {Error} */ (error).message}`);
  }
  try {
    if (script === 'check') respond(check(raw));
    else if (script === 'in') respond(await get(raw, path.resolve(/** @type {string} */ (process.argv[2]))));
    else respond(put(raw));
  } catch (error) {
    // Source fields are decoded with the request in Go: their errors are parse errors there.
    const prefix = error instanceof DecodeError ? 'parse error:' : 'running command:';
    fail(`${prefix} ${/** @type {Error} */ (error).message}`);
  }
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
