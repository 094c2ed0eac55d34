#!/usr/bin/env node
// `pnpm bench`: runs every bench/*.bench.{js,mjs,cjs} file in its own Node process (after `tsc -b`, so
// benches import packages from their dist/), then prints one table of what they measured.
//
// A bench reports a figure by printing a line `BENCH-FIGURE {"figure": "...", "value": "...", "target": "..."}`
// on stdout, optionally with `"pass": true|false` (whether the value meets its target); anything else it
// prints is passed through as progress. A bench that exits non-zero fails the run. The table's `result`
// column says pass or MISS: the bench's own verdict, else one read from a target such as `< 300 ms` or
// `≥ 0.7` and a value in the same unit; blank for context figures.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const MARKER = 'BENCH-FIGURE ';
const only = process.argv[2];
const files = readdirSync(benchDir)
  .filter((name) => /\.bench\.(m|c)?js$/.test(name))
  .filter((name) => only === undefined || name.includes(only))
  .sort();

function runBench(file) {
  return new Promise((resolve) => {
    const figures = [];
    const child = spawn(process.execPath, [path.join(benchDir, file)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith(MARKER)) figures.push(JSON.parse(line.slice(MARKER.length)));
        else process.stdout.write(`  [${file}] ${line}\n`);
      }
    });
    child.on('close', (code) => resolve({ file, code, figures }));
  });
}

const startedAt = Date.now();
const rows = [];
let failed = false;
for (const file of files) {
  process.stdout.write(`running ${file}\n`);
  const { code, figures } = await runBench(file);
  if (code !== 0) {
    failed = true;
    rows.push({ figure: `${file} FAILED (exit ${code})`, value: '-', target: '-', result: 'FAIL' });
  }
  rows.push(
    ...figures.map((f) => ({
      figure: String(f.figure),
      value: String(f.value),
      target: String(f.target ?? ''),
      result: verdict(f),
    })),
  );
}

/** 'pass', 'MISS' or '' (no target, or one that cannot be read). */
function verdict({ value, target, pass }) {
  if (typeof pass === 'boolean') return pass ? 'pass' : 'MISS';
  const goal = /^\s*(<=|>=|<|>|≤|≥)\s*([\d.]+)\s*(.*)$/.exec(String(target ?? ''));
  const measured = /^\s*([\d.]+)\s*(.*)$/.exec(String(value ?? ''));
  if (!goal || !measured || goal[3].trim() !== measured[2].trim()) return '';
  const [wanted, got] = [Number(goal[2]), Number(measured[1])];
  const ok = {
    '<': got < wanted,
    '<=': got <= wanted,
    '≤': got <= wanted,
    '>': got > wanted,
    '>=': got >= wanted,
    '≥': got >= wanted,
  }[goal[1]];
  return ok ? 'pass' : 'MISS';
}

if (files.length === 0) process.stdout.write('no bench/*.bench.js files\n');
const header = { figure: 'figure', value: 'value', target: 'target', result: 'result' };
const columns = ['figure', 'value', 'target', 'result'];
const width = (key) => Math.max(...[header, ...rows].map((row) => row[key].length));
const line = (row) =>
  columns
    .map((key) => row[key].padEnd(width(key)))
    .join(' | ')
    .trimEnd();
const elapsed = ((Date.now() - startedAt) / 1000).toFixed(0);
process.stdout.write(`\n${line(header)}\n${columns.map((key) => '-'.repeat(width(key))).join('-|-')}\n`);
for (const row of rows) process.stdout.write(`${line(row)}\n`);
process.stdout.write(
  `\n${rows.filter((row) => row.result === 'pass').length} pass, ${rows.filter((row) => row.result === 'MISS').length} miss; ` +
    `${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}, node ${process.version}, ${elapsed} s\n`,
);
process.exitCode = failed ? 1 : 0;
