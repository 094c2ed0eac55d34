// @ts-check
// Just enough of Go's time package for the time resource: instants in nanoseconds with a location (UTC, a
// fixed offset as parsed from RFC 3339, or an IANA zone), wall-clock fields, time.Date, and the formats the
// resource prints.
import { DecodeError } from './protocol.js';

/**
 * @typedef {{ kind: 'utc' } | { kind: 'fixed', offsetSeconds: number } | { kind: 'zone', name: string }} Location
 * @typedef {{ ns: bigint, loc: Location }} GoTime
 * @typedef {{ year: number, month: number, day: number, hour: number, minute: number, second: number, weekday: number }} WallClock
 */

/** @type {Location} */
export const UTC = { kind: 'utc' };
const NS_PER_MS = 1000000n;
const NS_PER_S = 1000000000n;

/** Now, in UTC (Go's time.Now().UTC()). @returns {GoTime} */
export function now() {
  return { ns: BigInt(Date.now()) * NS_PER_MS, loc: UTC };
}

/** @param {GoTime} t @param {Location} loc @returns {GoTime} */
export function inLocation(t, loc) {
  return { ns: t.ns, loc };
}

/** Go's time.LoadLocation: `""` and `UTC` are UTC; otherwise an IANA zone name. @param {string} name */
export function loadLocation(name) {
  if (name === '' || name === 'UTC') return UTC;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    throw new DecodeError(`unknown time zone ${name}`);
  }
  return /** @type {Location} */ ({ kind: 'zone', name });
}

/** The name Location.String() gives. @param {Location} loc */
export function locationName(loc) {
  return loc.kind === 'zone' ? loc.name : loc.kind === 'utc' ? 'UTC' : '';
}

/** Seconds east of UTC at instant `ns`. @param {Location} loc @param {bigint} ns */
function offsetAt(loc, ns) {
  if (loc.kind === 'utc') return 0;
  if (loc.kind === 'fixed') return loc.offsetSeconds;
  const ms = Number(floorDiv(ns, NS_PER_MS));
  const parts = zoneParts(loc.name, ms);
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 1000);
}

/** @param {string} zone @param {number} ms */
function zoneParts(zone, ms) {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  /** @type {Record<string, number>} */
  const parts = {};
  for (const part of format.formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts['year'] ?? 1970,
    month: parts['month'] ?? 1,
    day: parts['day'] ?? 1,
    hour: parts['hour'] ?? 0,
    minute: parts['minute'] ?? 0,
    second: parts['second'] ?? 0,
  };
}

/** The wall clock of `t` in its location. @param {GoTime} t @returns {WallClock} */
export function wallClock(t) {
  const offset = BigInt(offsetAt(t.loc, t.ns));
  const localMs = Number(floorDiv(t.ns + offset * NS_PER_S, NS_PER_MS));
  const date = new Date(localMs);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    weekday: date.getUTCDay(),
  };
}

/**
 * Go's time.Date: the instant with this wall clock in `loc` (out-of-range fields normalise, e.g. day 32).
 * @param {number} year @param {number} month @param {number} day @param {number} hour @param {number} minute
 * @param {number} second @param {Location} loc
 * @returns {GoTime}
 */
export function date(year, month, day, hour, minute, second, loc) {
  const wallMs = BigInt(Date.UTC(year, month - 1, day, hour, minute, second));
  const wallNs = wallMs * NS_PER_MS;
  // The offset depends on the instant: settle it in two rounds (enough outside DST gaps).
  let ns = wallNs - BigInt(offsetAt(loc, wallNs)) * NS_PER_S;
  ns = wallNs - BigInt(offsetAt(loc, ns)) * NS_PER_S;
  return { ns, loc };
}

/** Go's t.AddDate(0, 0, days). @param {GoTime} t @param {number} days */
export function addDays(t, days) {
  const w = wallClock(t);
  const shifted = date(w.year, w.month, w.day + days, w.hour, w.minute, w.second, t.loc);
  return { ns: shifted.ns + floorMod(t.ns, NS_PER_S), loc: t.loc };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Go's time.Time UnmarshalJSON (RFC 3339). @param {string} text @returns {GoTime} */
export function parseRfc3339(text) {
  const match = RFC3339.exec(text);
  if (match === null) {
    throw new DecodeError(
      `parsing time ${JSON.stringify(text)} as "2006-01-02T15:04:05Z07:00": cannot parse`,
    );
  }
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match;
  const wallNs =
    BigInt(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))) * NS_PER_MS +
    BigInt((fraction.slice(1) + '000000000').slice(0, 9) || '0');
  if (zone === 'Z' || zone === 'z') return { ns: wallNs, loc: UTC };
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetSeconds = sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
  // An offset of zero is the local zone in a resource container, whose zone is UTC.
  if (offsetSeconds === 0) return { ns: wallNs, loc: UTC };
  return { ns: wallNs - BigInt(offsetSeconds) * NS_PER_S, loc: { kind: 'fixed', offsetSeconds } };
}

/** Go's time.RFC3339Nano, as time.Time marshals to JSON. @param {GoTime} t */
export function formatRfc3339Nano(t) {
  const w = wallClock(t);
  const offset = offsetAt(t.loc, t.ns);
  const zone = offset === 0 ? 'Z' : formatOffset(offset, ':');
  return `${ymd(w)}T${hms(w)}${fraction(t)}${zone}`;
}

/** `2006-01-02 15:04:05.999999999 -0700 MST`, the time resource's `timestamp` file. @param {GoTime} t */
export function formatTimestamp(t) {
  const w = wallClock(t);
  const offset = offsetAt(t.loc, t.ns);
  return `${ymd(w)} ${hms(w)}${fraction(t)} ${formatOffset(offset, '')} ${zoneAbbreviation(t, offset)}`;
}

/** Unix seconds (Go's t.Unix()). @param {GoTime} t */
export function unixSeconds(t) {
  return floorDiv(t.ns, NS_PER_S);
}

/** @param {WallClock} w */
function ymd(w) {
  return `${String(w.year).padStart(4, '0')}-${pad2(w.month)}-${pad2(w.day)}`;
}

/** @param {WallClock} w */
function hms(w) {
  return `${pad2(w.hour)}:${pad2(w.minute)}:${pad2(w.second)}`;
}

/** `.999999999` with trailing zeros dropped, nothing for whole seconds. @param {GoTime} t */
function fraction(t) {
  const digits = String(floorMod(t.ns, NS_PER_S)).padStart(9, '0').replace(/0+$/, '');
  return digits === '' ? '' : `.${digits}`;
}

/** @param {number} offsetSeconds @param {string} separator */
function formatOffset(offsetSeconds, separator) {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  return `${sign}${pad2(Math.floor(abs / 3600))}${separator}${pad2(Math.floor((abs % 3600) / 60))}`;
}

/** Go's `MST`: the zone's abbreviation, else (a fixed offset from RFC 3339) the offset. @param {GoTime} t @param {number} offset */
function zoneAbbreviation(t, offset) {
  if (t.loc.kind === 'utc') return 'UTC';
  if (t.loc.kind === 'fixed') return formatOffset(offset, '');
  const name = new Intl.DateTimeFormat('en-US', { timeZone: t.loc.name, timeZoneName: 'short' })
    .formatToParts(new Date(Number(floorDiv(t.ns, NS_PER_MS))))
    .find((part) => part.type === 'timeZoneName')?.value;
  // tzdata names zones without a letter abbreviation by their offset: "+07", "-0330".
  if (name === undefined || (name.startsWith('GMT') && name.length > 3)) {
    const hours = pad2(Math.floor(Math.abs(offset) / 3600));
    const minutes = Math.floor((Math.abs(offset) % 3600) / 60);
    return `${offset < 0 ? '-' : '+'}${hours}${minutes === 0 ? '' : pad2(minutes)}`;
  }
  return name;
}

/** @param {number} n */
function pad2(n) {
  return String(n).padStart(2, '0');
}

/** @param {bigint} a @param {bigint} b */
function floorDiv(a, b) {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** @param {bigint} a @param {bigint} b */
function floorMod(a, b) {
  return a - floorDiv(a, b) * b;
}
