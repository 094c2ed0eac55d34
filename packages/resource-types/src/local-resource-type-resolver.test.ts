import { access, chmod, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BUILTIN_RESOURCE_TYPES,
  BUILTIN_RESOURCE_TYPES_DIR,
  LocalResourceTypeResolver,
  UnknownResourceTypeError,
} from './local-resource-type-resolver.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'resource-types-'));
  for (const type of ['git', 'mock']) {
    await mkdir(path.join(dir, type));
    await writeFile(path.join(dir, type, 'check'), '#!/bin/sh\necho []\n');
    await chmod(path.join(dir, type, 'check'), 0o755);
  }
  await writeFile(path.join(dir, 'not-a-type'), '');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalResourceTypeResolver', () => {
  it('resolves the built-ins to executable check/in/out', async () => {
    const resolver = new LocalResourceTypeResolver();
    for (const type of BUILTIN_RESOURCE_TYPES) {
      const resolved = await resolver.resolve(type, {});
      expect(resolved).toEqual({ kind: 'local-dir', dir: path.join(BUILTIN_RESOURCE_TYPES_DIR, type) });
      for (const script of ['check', 'in', 'out']) {
        await expect(access(path.join(resolved.dir, script), constants.X_OK)).resolves.toBeUndefined();
      }
    }
  });

  it('resolves other types from the configured directory; built-ins win', async () => {
    const resolver = new LocalResourceTypeResolver({ directory: dir });
    expect(await resolver.resolve('git')).toEqual({ kind: 'local-dir', dir: path.join(dir, 'git') });
    expect((await resolver.resolve('mock')).dir).toBe(path.join(BUILTIN_RESOURCE_TYPES_DIR, 'mock'));
    expect(await resolver.list()).toEqual(['mock', 'time', 'git']);
  });

  it('rejects unknown types, files, and names that are not one path segment', async () => {
    const resolver = new LocalResourceTypeResolver({ directory: dir });
    for (const type of ['s3', 'not-a-type', '..', '../git', 'a/b', '']) {
      await expect(resolver.resolve(type)).rejects.toThrow(new UnknownResourceTypeError(type));
    }
    await expect(new LocalResourceTypeResolver().resolve('git')).rejects.toThrow(
      "unknown resource type 'git'",
    );
  });
});
