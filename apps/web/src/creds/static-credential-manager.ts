// Secrets from a fixed map, or from a YAML/JSON file re-read when it changes (`--credentials-file`). Keys
// are paths looked up as Concourse's Vault manager does by default: `<team>/<pipeline>/<name>` first, then
// `<team>/<name>` (one-off builds only try the team path).
//
// @example file
//   main/my-pipeline/db-password: hunter2     # ((db-password)) in main/my-pipeline only
//   main/registry: {username: bot, password: s3cret}   # ((registry.username)) in any pipeline of main
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

/** The paths tried for `name`, most specific first. */
export function secretLookupPaths(context: SecretLookupContext, name: string): string[] {
  const paths: string[] = [];
  if (context.pipelineName !== undefined && context.pipelineName !== '') {
    paths.push(`${context.teamName}/${context.pipelineName}/${name}`);
  }
  paths.push(`${context.teamName}/${name}`);
  return paths;
}

/** The credentials file could not be read or is not a map of secrets. */
export class CredentialsFileError extends Error {
  constructor(file: string, reason: string) {
    super(`credentials file ${file}: ${reason}`);
    this.name = 'CredentialsFileError';
  }
}

export class StaticCredentialManager implements CredentialManager {
  constructor(private readonly secrets: Readonly<Record<string, unknown>>) {}

  async lookup(context: SecretLookupContext, name: string): Promise<{ value: unknown } | undefined> {
    for (const path of secretLookupPaths(context, name)) {
      if (Object.hasOwn(this.secrets, path)) return { value: this.secrets[path] };
    }
    return undefined;
  }
}

/** A StaticCredentialManager over a file, re-read whenever its modification time changes. */
export class FileCredentialManager implements CredentialManager {
  private loaded: { mtimeMs: number; manager: StaticCredentialManager } | undefined;

  constructor(readonly file: string) {}

  async lookup(context: SecretLookupContext, name: string): Promise<{ value: unknown } | undefined> {
    return (await this.current()).lookup(context, name);
  }

  private async current(): Promise<StaticCredentialManager> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.file)).mtimeMs;
    } catch (err) {
      throw new CredentialsFileError(this.file, (err as Error).message);
    }
    if (this.loaded?.mtimeMs === mtimeMs) return this.loaded.manager;
    let parsed: unknown;
    try {
      parsed = parseYaml(await readFile(this.file, 'utf8'));
    } catch (err) {
      throw new CredentialsFileError(this.file, (err as Error).message);
    }
    if (parsed === null || parsed === undefined) parsed = {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CredentialsFileError(this.file, 'must be a map of secret paths to values');
    }
    const manager = new StaticCredentialManager(parsed as Record<string, unknown>);
    this.loaded = { mtimeMs, manager };
    return manager;
  }
}
