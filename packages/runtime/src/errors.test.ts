import { describe, expect, it } from '@jest/globals';
import { ExecutableNotFoundError, RuntimeError } from './errors.js';

describe('runtime errors', () => {
  it('ExecutableNotFoundError is a RuntimeError naming the path, as fly hijack expects', () => {
    const err = new ExecutableNotFoundError('bash');
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toContain('executable file not found');
    expect(err.message).toContain('bash');
  });
});
