// @ts-check
// The `mock` resource type (concourse/mock-resource): versions without the outside world. check returns
// `force_version`, else the version it was given, else `initial_version` (default `mock`, or
// $MIRRORED_VERSION) unless `no_initial_version`; in writes `version`, `privileged` and `create_files`;
// out creates `params.version` (or the contents of `params.file`). Unknown request fields are rejected, as
// the Go resource decodes with DisallowUnknownFields.
//
// Differences on the local runtime, which runs it as a host process: it never reports itself privileged,
// and `mirror_self` writes an empty `rootfs/` (the host is the image) with the usual `metadata.json`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as logrus from './logrus.js';
import {
  DecodeError,
  decodeFirstJson,
  goJson,
  isObject,
  jsonKind,
  member,
  parseGoDuration,
  readStdin,
  respond,
  sleep,
} from './protocol.js';

const DEFAULT_INITIAL_VERSION = 'mock';

/**
 * @typedef {{ name: string, value: string }} MetadataField
 * @typedef {{ version: string, privileged?: string }} Version
 * @typedef {{
 *   mirror_self: boolean, initial_version: string, no_initial_version: boolean, force_version: string,
 *   create_files: Record<string, unknown> | null, check_delay: string, check_failure: string,
 *   metadata: MetadataField[] | null, log: string,
 * }} Source
 */

/** @typedef {'string' | 'bool' | 'map' | 'metadata' | Schema} FieldType */
/** @typedef {{ [field: string]: FieldType }} Schema */

/** @type {Schema} */
const SOURCE = {
  mirror_self: 'bool',
  initial_version: 'string',
  no_initial_version: 'bool',
  force_version: 'string',
  create_files: 'map',
  check_delay: 'string',
  check_failure: 'string',
  metadata: 'metadata',
  log: 'string',
};
/** @type {Schema} */
const VERSION = { version: 'string', privileged: 'string' };
/** @type {Schema} */
const GET_PARAMS = { mirror_self_via_params: 'bool', create_files_via_params: 'map' };
/** @type {Schema} */
const PUT_PARAMS = { version: 'string', print_env: 'bool', file: 'string' };

/** Zero values of a schema's fields, as a Go struct starts. @param {Schema} schema */
function zero(schema) {
  /** @type {Record<string, unknown>} */
  const value = {};
  for (const [field, type] of Object.entries(schema)) {
    value[field] =
      type === 'string' ? '' : type === 'bool' ? false : typeof type === 'object' ? zero(type) : null;
  }
  return value;
}

/**
 * Decode `raw` into a struct of `schema` as encoding/json with DisallowUnknownFields does.
 * @param {unknown} raw
 * @param {Schema} schema
 * @param {string} struct Go struct name, for messages
 * @param {string} at JSON path so far, for messages
 * @returns {Record<string, unknown>}
 */
function decodeStruct(raw, schema, struct, at) {
  const value = zero(schema);
  if (raw === null) return value;
  if (!isObject(raw)) throw mismatch(raw, struct, at, 'struct');
  for (const [key, item] of Object.entries(raw)) {
    const field =
      Object.keys(schema).find((name) => name === key) ??
      Object.keys(schema).find((name) => name.toLowerCase() === key.toLowerCase());
    if (field === undefined) throw new DecodeError(`json: unknown field ${JSON.stringify(key)}`);
    const type = /** @type {FieldType} */ (schema[field]);
    const where = at === '' ? field : `${at}.${field}`;
    if (item === null) continue;
    if (typeof type === 'object') value[field] = decodeStruct(item, type, struct, where);
    else if (type === 'string') {
      if (typeof item !== 'string') throw mismatch(item, struct, where, 'string');
      value[field] = item;
    } else if (type === 'bool') {
      if (typeof item !== 'boolean') throw mismatch(item, struct, where, 'bool');
      value[field] = item;
    } else if (type === 'map') {
      if (!isObject(item)) throw mismatch(item, struct, where, 'map[string]interface {}');
      value[field] = item;
    } else {
      if (!Array.isArray(item)) throw mismatch(item, struct, where, '[]resource.MetadataField');
      value[field] = item.map((entry) =>
        decodeStruct(entry, { name: 'string', value: 'string' }, struct, where),
      );
    }
  }
  return value;
}

/** @param {unknown} value @param {string} struct @param {string} at @param {string} type */
function mismatch(value, struct, at, type) {
  const target = at === '' ? `Go value of type ${type}` : `Go struct field ${struct}.${at} of type ${type}`;
  return new DecodeError(`json: cannot unmarshal ${jsonKind(value)} into ${target}`);
}

/**
 * Decode the request read from stdin; a payload that does not decode is fatal, as in the Go resource.
 * @param {unknown} raw the request's JSON value
 * @param {string} struct
 * @param {Schema} schema
 */
function request(raw, struct, schema) {
  try {
    return decodeStruct(raw, schema, struct, '');
  } catch (error) {
    if (error instanceof DecodeError) logrus.fatal(`invalid payload: ${error.message}`);
    throw error;
  }
}

/** The request's JSON value from stdin (fatal when it is not JSON). */
async function rawRequest() {
  try {
    return decodeFirstJson(await readStdin());
  } catch (error) {
    if (error instanceof DecodeError) logrus.fatal(`invalid payload: ${error.message}`);
    throw error;
  }
}

/** @param {Source} source */
function initialVersion(source) {
  if (source.initial_version !== '') return source.initial_version;
  return process.env['MIRRORED_VERSION'] || DEFAULT_INITIAL_VERSION;
}

/** `version` with Go's omitempty on `privileged`. @param {Version} version @returns {Version} */
function versionJson(version) {
  return version.privileged
    ? { version: version.version, privileged: version.privileged }
    : { version: version.version };
}

/** @param {unknown} raw */
export async function check(raw) {
  const req = request(raw, 'CheckRequest', { source: SOURCE, version: VERSION });
  const source = /** @type {Source} */ (req['source']);
  // `version` is a pointer in the Go request: absent or null means none was given.
  const rawVersion = isObject(raw) ? member(raw, 'version') : undefined;
  const given =
    rawVersion === undefined || rawVersion === null ? undefined : /** @type {Version} */ (req['version']);
  if (source.log !== '') logrus.info(source.log);
  if (source.check_delay !== '') {
    /** @type {bigint} */
    let delay = 0n;
    try {
      delay = parseGoDuration(source.check_delay);
    } catch (error) {
      logrus.fatal(
        `malformed check_delay duration (${source.check_delay}): ${/** @type {Error} */ (error).message}`,
      );
    }
    await sleep(delay);
  }
  if (source.check_failure !== '') logrus.fatal(`intentionally failing to check: ${source.check_failure}`);

  /** @type {Version[]} */
  const response = [];
  if (source.force_version !== '') response.push({ version: source.force_version });
  else if (given !== undefined) response.push(versionJson(given));
  else if (!source.no_initial_version) response.push({ version: initialVersion(source) });
  respond(response);
}

/** @param {unknown} raw @param {string | undefined} dest */
export async function get(raw, dest) {
  const req = request(raw, 'InRequest', { source: SOURCE, version: VERSION, params: GET_PARAMS });
  if (dest === undefined) logrus.fatal('destination path not specified');
  const source = /** @type {Source} */ (req['source']);
  const version = /** @type {Version} */ (req['version']);
  const params =
    /** @type {{ mirror_self_via_params: boolean, create_files_via_params: Record<string, unknown> | null }} */ (
      req['params']
    );
  if (source.log !== '') logrus.info(source.log);

  await writeFile(path.join(dest, 'privileged'), `${goJson(false)}\n`);
  logrus.info(`fetching version: ${version.version}`);
  try {
    await writeFile(path.join(dest, 'version'), `${version.version}\n`, { mode: 0o777 });
  } catch (error) {
    logrus.fatal(`failed to write version file: ${/** @type {Error} */ (error).message}`);
  }

  if (source.mirror_self || params.mirror_self_via_params) {
    logrus.info('mirroring self image', { via_params: params.mirror_self_via_params });
    await mkdir(path.join(dest, 'rootfs'), { recursive: true });
    await writeFile(
      path.join(dest, 'metadata.json'),
      `${goJson({ env: [`MIRRORED_VERSION=${version.version}`], user: 'root' })}\n`,
    );
  }

  const files = { ...(source.create_files ?? {}), ...(params.create_files_via_params ?? {}) };
  for (const [file, content] of Object.entries(files)) {
    const text = (typeof content === 'string' ? content : goJson(content, { sortKeys: true }))
      .replaceAll('START_VAR', '((')
      .replaceAll('END_VAR', '))');
    const filePath = path.join(dest, file);
    try {
      await mkdir(path.dirname(filePath), { recursive: true, mode: 0o755 });
    } catch (error) {
      logrus.fatal(
        `failed to create directory '${path.dirname(filePath)}': ${/** @type {Error} */ (error).message}`,
      );
    }
    try {
      await writeFile(filePath, text, { mode: 0o644 });
    } catch (error) {
      logrus.fatal(`failed to write to file '${file}': ${/** @type {Error} */ (error).message}`);
    }
  }

  respond({ version: versionJson(version), metadata: source.metadata });
}

/** @param {unknown} raw @param {string | undefined} sourcePath */
export async function put(raw, sourcePath) {
  const req = request(raw, 'OutRequest', { source: SOURCE, version: VERSION, params: PUT_PARAMS });
  const source = /** @type {Source} */ (req['source']);
  const params = /** @type {{ version: string, print_env: boolean, file: string }} */ (req['params']);
  if (sourcePath === undefined) logrus.fatal('source path not specified');
  if (sourcePath === '') logrus.fatal('source path is empty');
  if (source.log !== '') logrus.info(source.log);
  if (params.version === '' && params.file === '') logrus.fatal('no version specified');

  /** @type {Version} */
  let version;
  if (params.version === '') {
    const file = path.join(sourcePath, params.file);
    try {
      version = { version: await readFile(file, 'utf8') };
    } catch (error) {
      logrus.fatal(`error reading version from file ${params.file}: ${goFileError('open', file, error)}`);
    }
  } else {
    version = { version: params.version };
  }
  logrus.info(`pushing version: ${version.version}`);
  if (params.print_env) {
    for (const [name, value] of Object.entries(process.env)) logrus.info(`env: ${name}=${value ?? ''}`);
  }
  respond({ version: versionJson(version), metadata: source.metadata });
}

/** An fs error as Go's *PathError prints it: `open /x: no such file or directory`. */
function goFileError(/** @type {string} */ op, /** @type {string} */ file, /** @type {unknown} */ error) {
  const code = /** @type {NodeJS.ErrnoException} */ (error).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EISDIR'
        ? 'is a directory'
        : code === 'EACCES'
          ? 'permission denied'
          : /** @type {Error} */ (error).message;
  return `${op} ${file}: ${reason}`;
}

/**
 * Run one of the scripts: `script` is `check`, `in` or `out`; argv[2] is the destination (in) or source (out)
 * directory.
 * @param {'check' | 'in' | 'out'} script
 */
export async function main(script) {
  const raw = await rawRequest();
  const dir = process.argv[2];
  if (script === 'check') await check(raw);
  else if (script === 'in') await get(raw, dir === undefined ? undefined : path.resolve(dir));
  else await put(raw, dir === undefined || dir === '' ? dir : path.resolve(dir));
}
