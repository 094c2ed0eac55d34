import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildHelperBinary } from './testing.js';

// The node-local init step (`jetbridge-helper fetch-inputs`) run as a plain process: output directories it
// creates must be writable by whichever user the step runs as — parents of a nested output path included.

const helper = await buildHelperBinary();
const run = promisify(execFile);

describe('jetbridge-helper fetch-inputs --writable', () => {
  it('makes a nested output path and every parent it creates world-writable', async () => {
    if ('skip' in helper) {
      console.warn(`skipped: ${helper.skip}`);
      return;
    }
    const root = await mkdtemp(path.join(os.tmpdir(), 'fetch-inputs-'));
    try {
      const output = path.join(root, 'workdir', 'dist', 'bin');
      await run(helper.path, ['fetch-inputs', `--writable=${output}`]);
      for (const dir of ['workdir', 'workdir/dist', 'workdir/dist/bin']) {
        const mode = (await stat(path.join(root, dir))).mode & 0o777;
        expect({ dir, mode: mode.toString(8) }).toEqual({ dir, mode: '777' });
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
