import { describe, expect, it } from '@jest/globals';
import { TaskConfigError, parseTaskConfig } from './parse-task-config.js';
import { TaskValidationError, assertValidTaskConfig, validateTaskConfig } from './validate-task-config.js';

describe('validateTaskConfig', () => {
  it('accepts a minimal config', () => {
    expect(validateTaskConfig({ platform: 'linux', run: { path: 'true' } })).toEqual([]);
  });

  it("reports Concourse's messages, in Concourse's order", () => {
    const config = parseTaskConfig({
      inputs: [{ name: 'a' }, { path: 'x' }],
      outputs: [{}],
      run: { path: '' },
    });
    expect(validateTaskConfig(config)).toEqual([
      "missing 'platform'",
      '  input in position 1 is missing a name',
      '  output in position 0 is missing a name',
    ]);
    expect(() => assertValidTaskConfig(config)).toThrow(TaskValidationError);
    expect(() => assertValidTaskConfig(config)).toThrow(
      "invalid task configuration:\nmissing 'platform'\n  input in position 1 is missing a name\n  output in position 0 is missing a name",
    );
  });

  it('allows an empty run.path (v8: the image entrypoint is used) and overlapping paths (allowed since v5)', () => {
    expect(
      validateTaskConfig({
        platform: 'linux',
        run: { path: '' },
        inputs: [{ name: 'a' }, { name: 'a' }],
        outputs: [{ name: 'a' }],
      }),
    ).toEqual([]);
  });
});

describe('parseTaskConfig', () => {
  it('decodes a full task file', () => {
    expect(
      parseTaskConfig(
        {
          platform: 'linux',
          image_resource: {
            type: 'registry-image',
            source: { repository: 'golang' },
            version: { digest: 'sha256:1' },
            tags: ['', 'x'],
          },
          inputs: [{ name: 'src', path: 'go/src/app', optional: true }],
          outputs: [{ name: 'bin', path: 'out' }],
          caches: [{ path: '.cache', ttl: '24h' }],
          params: { FOO: 'bar', EMPTY: null, N: 3 },
          run: { path: 'sh', args: ['-exc', 'ls'], dir: 'src', user: 'root' },
          container_limits: { cpu: 1024, memory: '2GB' },
        },
        { rejectUnknownFields: true },
      ),
    ).toEqual({
      platform: 'linux',
      image_resource: {
        name: '',
        type: 'registry-image',
        source: { repository: 'golang' },
        version: { digest: 'sha256:1' },
        tags: ['x'],
      },
      inputs: [{ name: 'src', path: 'go/src/app', optional: true }],
      outputs: [{ name: 'bin', path: 'out' }],
      caches: [{ path: '.cache', ttl: '24h' }],
      params: { FOO: 'bar', EMPTY: '', N: '3' },
      run: { path: 'sh', args: ['-exc', 'ls'], dir: 'src', user: 'root' },
      container_limits: { cpu: 1024, memory: 2 * 1024 ** 3 },
    });
  });

  it('decodes memory limits in binary units, case-insensitively', () => {
    const memory = (m: unknown) =>
      parseTaskConfig({ run: { path: 'x' }, container_limits: { memory: m } }).container_limits?.memory;
    expect(memory('1kb')).toBe(1024);
    expect(memory('3MiB')).toBe(3 * 1024 ** 2);
    expect(memory('5G')).toBe(5 * 1024 ** 3);
    expect(memory(12)).toBe(12);
    expect(memory('12')).toBe(12);
  });

  it('rejects unknown fields of task files and bad cache TTLs', () => {
    expect(() =>
      parseTaskConfig({ platform: 'linux', ouputs: [], run: { path: 'x' } }, { rejectUnknownFields: true }),
    ).toThrow(new TaskConfigError('unknown fields: [ouputs]'));
    expect(() => parseTaskConfig({ run: { path: 'x' }, caches: [{ path: 'c', ttl: '500ms' }] })).toThrow(
      "cache ttl must be at least 1s, got '500ms'",
    );
    expect(() => parseTaskConfig({ run: { path: 'x' }, caches: [{ path: 'c', ttl: '1d' }] })).toThrow(
      `invalid cache ttl '1d': time: unknown unit "d" in duration "1d"`,
    );
    expect(() => parseTaskConfig({ run: { path: 'x', args: [1] } })).toThrow(
      'config.run.args[0]: expected a string, got a number',
    );
    expect(() => parseTaskConfig([])).toThrow(TaskConfigError);
  });
});
