#!/usr/bin/env node
// `pnpm bench`: runs every bench/*.bench.{js,mjs,cjs} file in its own Node process (after `tsc -b`, so
// benches import packages from their dist/), then prints one table of what they measured.
//
// A bench reports a figure by printing a line `BENCH-FIGURE {"figure": "...", "value": "...", "target": "..."}`
// on stdout; anything else it prints is passed through as progress. A bench that exits non-zero fails the run.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
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

const rows = [];
let failed = false;
for (const file of files) {
  process.stdout.write(`running ${file}\n`);
  const { code, figures } = await runBench(file);
  if (code !== 0) {
    failed = true;
    rows.push({ figure: `${file} FAILED (exit ${code})`, value: '-', target: '-' });
  }
  rows.push(
    ...figures.map((f) => ({
      figure: String(f.figure),
      value: String(f.value),
      target: String(f.target ?? ''),
    })),
  );
}

if (files.length === 0) process.stdout.write('no bench/*.bench.js files\n');
const header = { figure: 'figure', value: 'value', target: 'target' };
const width = (key) => Math.max(...[header, ...rows].map((row) => row[key].length));
const line = (row) =>
  `${row.figure.padEnd(width('figure'))} | ${row.value.padEnd(width('value'))} | ${row.target}`;
process.stdout.write(
  `\n${line(header)}\n${'-'.repeat(width('figure'))}-|-${'-'.repeat(width('value'))}-|-${'-'.repeat(width('target'))}\n`,
);
for (const row of rows) process.stdout.write(`${line(row)}\n`);
process.exitCode = failed ? 1 : 0;
