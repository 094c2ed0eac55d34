import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { optionSpecs } from './options.js';

const readme = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../README.md'),
  'utf8',
);

describe('README configuration reference', () => {
  it.each(optionSpecs.map((s) => [s.flag, s.env] as const))('documents --%s / %s', (flag, env) => {
    // Table cells may be padded by the formatter.
    expect(readme).toMatch(new RegExp(`\`--${flag}\`\\s*\\|\\s*\`${env}\``));
  });

  it('starts with the two commands: start on the embedded default, and run every test', () => {
    expect(readme).toContain('npx -y pnpm@10 install && npx -y pnpm@10 start');
    expect(readme).toContain('npx -y pnpm@10 install && npx -y pnpm@10 test');
  });
});
