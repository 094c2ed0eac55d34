import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { cliBuilt } from './cli-node.js';

/**
 * Issue #9 item 5 in CI: `scripts/soak.mjs` (what `pnpm soak --minutes N` runs) for two minutes against the
 * built CLI. After a 1-minute warm-up (RSS keeps rising for a while as the allocator and V8's code space
 * warm up, while live memory stays flat: see the script's header) it fails on JS memory (heapUsed + external
 * after a full collection) growing faster than 3 MB/min, RSS faster than 10 MB/min, or open descriptors or
 * active handles faster than 3 per minute, and on any build that does not succeed; this test checks its
 * verdict and that it reported samples over the whole run. The JS limit is 3 here, not the script's default 2:
 * one judged minute leaves ±1–2 MB/min of noise on a busy CI machine (clean runs read -1.3 to 2.6), and a
 * real 3 MB/min leak reads above 5. Small leaks need a longer manual run (`pnpm soak --minutes 10`).
 */
const CI_MAX_JS_SLOPE = '3';
const SOAK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts/soak.mjs');
const MINUTES = Number(process.env['JETBRIDGE_SOAK_MINUTES'] ?? 2);

interface SoakSummary {
  pass: boolean;
  builds: number;
  samples: number;
  slopes: { jsMbPerMin: number; rssMbPerMin: number; fdsPerMin: number; handlesPerMin: number };
  failures: string[];
}

const describeBuilt = cliBuilt ? describe : describe.skip;

describeBuilt('soak', () => {
  it(
    `runs a pipeline for ${MINUTES} minutes without memory, descriptor or handle growth beyond the stated slopes`,
    async () => {
      const child = spawn(
        process.execPath,
        [SOAK, '--minutes', String(MINUTES), '--sample-seconds', '5', '--max-js-slope', CI_MAX_JS_SLOPE],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      const line = stdout.split('\n').find((l) => l.startsWith('SOAK-SUMMARY '));
      if (line === undefined)
        throw new Error(`soak printed no summary (exit ${code}):\n${stdout}\n${stderr}`);
      const summary = JSON.parse(line.slice('SOAK-SUMMARY '.length)) as SoakSummary;
      console.log(stdout);
      expect(summary.failures).toEqual([]);
      expect(summary.pass).toBe(true);
      expect(code).toBe(0);
      expect(summary.builds).toBeGreaterThan(10 * MINUTES);
      // Every 5 s is 12 a minute when idle; a loaded CI machine delays samples (19 of 24 in one 2-minute run).
      expect(summary.samples).toBeGreaterThanOrEqual(MINUTES * 7);
    },
    (MINUTES * 60 + 120) * 1000,
  );
});
