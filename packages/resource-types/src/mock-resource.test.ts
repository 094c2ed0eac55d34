// The built-in `mock` resource type, run as real processes.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { plain, runScript } from './test-fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mock resource: check', () => {
  it('returns force_version, else the given version, else the initial version', () => {
    const versions = (request: unknown, env?: Record<string, string>) => {
      const result = runScript('mock', 'check', request, { env });
      expect(result.status).toBe(0);
      return result.json;
    };
    expect(versions({ source: {} })).toEqual([{ version: 'mock' }]);
    expect(versions({ source: { initial_version: 'v0' } })).toEqual([{ version: 'v0' }]);
    expect(versions({ source: {} }, { MIRRORED_VERSION: 'mirrored' })).toEqual([{ version: 'mirrored' }]);
    expect(versions({ source: { initial_version: 'v0' }, version: { version: 'v3' } })).toEqual([
      { version: 'v3' },
    ]);
    expect(versions({ source: { initial_version: 'v0' }, version: null })).toEqual([{ version: 'v0' }]);
    expect(versions({ source: { force_version: 'f' }, version: { version: 'v3' } })).toEqual([
      { version: 'f' },
    ]);
    expect(versions({ source: { no_initial_version: true } })).toEqual([]);
  });

  it('sleeps check_delay, logs `log`, and fails with check_failure', () => {
    const started = Date.now();
    const delayed = runScript('mock', 'check', { source: { check_delay: '300ms', log: 'hello there' } });
    expect(delayed.status).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(plain(delayed.stderr)).toMatch(/^INFO\[\d{4}\] hello there {34}\n$/);

    const failing = runScript('mock', 'check', { source: { check_failure: 'boom' } });
    expect(failing.status).toBe(1);
    expect(failing.stdout).toBe('');
    expect(plain(failing.stderr)).toMatch(/^FATA\[\d{4}\] intentionally failing to check: boom +\n$/);
  });

  it('rejects unknown fields and wrong types, as the Go decoder does', () => {
    const cases: Array<[unknown, string]> = [
      [{ source: { bogus: 1 } }, 'invalid payload: json: unknown field "bogus"'],
      [{ source: {}, params: {} }, 'invalid payload: json: unknown field "params"'],
      [
        { source: { initial_version: 3 } },
        'invalid payload: json: cannot unmarshal number into Go struct field CheckRequest.source.initial_version of type string',
      ],
      [
        { source: { check_delay: 'soon' } },
        'malformed check_delay duration (soon): time: invalid duration "soon"',
      ],
      ['', 'invalid payload: EOF'],
    ];
    for (const [request, message] of cases) {
      const result = runScript('mock', 'check', request);
      expect([
        result.status,
        plain(result.stderr)
          .replace(/^FATA\[\d{4}\] /, '')
          .trimEnd(),
      ]).toEqual([1, message]);
    }
  });
});

describe('mock resource: in', () => {
  it('writes the version, privileged and create_files (params merged over source), and returns metadata', async () => {
    const dest = path.join(dir, 'get');
    await mkdir(dest);
    const result = runScript(
      'mock',
      'in',
      {
        source: {
          create_files: {
            'a.txt': 'from source',
            'b.txt': 'replaced',
            'nested/c.json': { z: [1], a: '<&>' },
          },
          metadata: [{ name: 'author', value: 'alice' }],
          log: 'fetching now',
        },
        params: { create_files_via_params: { 'b.txt': 'START_VARvarEND_VAR' } },
        version: { version: 'v7' },
      },
      { args: [dest] },
    );
    expect(result.status).toBe(0);
    expect(result.json).toEqual({
      version: { version: 'v7' },
      metadata: [{ name: 'author', value: 'alice' }],
    });
    expect(plain(result.stderr)).toContain('fetching now');
    expect(plain(result.stderr)).toContain('fetching version: v7');
    const read = (file: string) => readFile(path.join(dest, file), 'utf8');
    expect(await read('version')).toBe('v7\n');
    expect(await read('privileged')).toBe('false\n');
    expect(await read('a.txt')).toBe('from source');
    expect(await read('b.txt')).toBe('((var))');
    expect(await read('nested/c.json')).toBe('{"a":"\\u003c\\u0026\\u003e","z":[1]}');
  });

  it('mirrors itself as an (empty, the host is the image) rootfs with metadata', async () => {
    const dest = path.join(dir, 'mirror');
    await mkdir(dest);
    const result = runScript(
      'mock',
      'in',
      { source: {}, params: { mirror_self_via_params: true }, version: { version: 'img' } },
      { args: [dest] },
    );
    expect(result.status).toBe(0);
    expect(result.json).toEqual({ version: { version: 'img' }, metadata: null });
    expect((await stat(path.join(dest, 'rootfs'))).isDirectory()).toBe(true);
    expect(JSON.parse(await readFile(path.join(dest, 'metadata.json'), 'utf8'))).toEqual({
      env: ['MIRRORED_VERSION=img'],
      user: 'root',
    });
  });

  it('needs a destination', () => {
    const result = runScript('mock', 'in', { source: {}, version: { version: 'v' } });
    expect(result.status).toBe(1);
    expect(plain(result.stderr)).toContain('destination path not specified');
  });
});

describe('mock resource: out', () => {
  it('creates params.version, or the contents of params.file relative to its argument', async () => {
    const source = path.join(dir, 'put');
    await rm(source, { recursive: true, force: true });
    await mkdir(path.join(source, 'repo'), { recursive: true });
    await writeFile(path.join(source, 'repo', 'version.txt'), 'from-file\n');

    const direct = runScript(
      'mock',
      'out',
      { source: { metadata: [{ name: 'k', value: 'v' }] }, params: { version: 'v9' } },
      { args: [source] },
    );
    expect(direct.status).toBe(0);
    expect(direct.json).toEqual({ version: { version: 'v9' }, metadata: [{ name: 'k', value: 'v' }] });
    expect(plain(direct.stderr)).toContain('pushing version: v9');

    const fromFile = runScript(
      'mock',
      'out',
      { source: {}, params: { file: 'repo/version.txt' } },
      { args: [source] },
    );
    expect(fromFile.json).toEqual({ version: { version: 'from-file\n' }, metadata: null });

    const env = runScript(
      'mock',
      'out',
      { source: {}, params: { version: 'e', print_env: true } },
      { args: [source], env: { BUILD_NAME: '12' } },
    );
    expect(plain(env.stderr)).toContain('env: BUILD_NAME=12');
  });

  it('fails without a version, with a missing file, and without a source path', () => {
    const none = runScript('mock', 'out', { source: {} }, { args: [dir] });
    expect([none.status, plain(none.stderr)]).toEqual([1, expect.stringContaining('no version specified')]);

    const missing = runScript('mock', 'out', { source: {}, params: { file: 'nope' } }, { args: [dir] });
    expect(missing.status).toBe(1);
    expect(plain(missing.stderr)).toContain(
      `error reading version from file nope: open ${path.join(dir, 'nope')}: no such file or directory`,
    );

    const noPath = runScript('mock', 'out', { source: {}, params: { version: 'v' } });
    expect([noPath.status, plain(noPath.stderr)]).toEqual([
      1,
      expect.stringContaining('source path not specified'),
    ]);
  });
});
