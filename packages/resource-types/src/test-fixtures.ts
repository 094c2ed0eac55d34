// Helpers for this package's tests: run a built-in resource script as a real process, as the local runtime does.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BUILTIN_RESOURCE_TYPES_DIR } from './local-resource-type-resolver.js';

export interface ScriptResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON (undefined when it is not). */
  json: unknown;
}

export function runScript(
  type: string,
  script: 'check' | 'in' | 'out',
  request: unknown,
  options: { args?: string[]; env?: Record<string, string> } = {},
): ScriptResult {
  const result = spawnSync(path.join(BUILTIN_RESOURCE_TYPES_DIR, type, script), options.args ?? [], {
    input: typeof request === 'string' ? request : JSON.stringify(request),
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env },
    timeout: 20_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json };
}

/** Text without ANSI colours. */
export function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}
