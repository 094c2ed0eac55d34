// Var sources (configvalidate `validateVarSources`, `VarSourceConfigs.OrderByDependency`): the type must be
// a credential manager usable in pipelines, names are unique, each config must make a valid manager, and
// var sources that refer to each other (`((other:path))`) must be resolvable in some order.
import type { ConfigWarning, PipelineConfig, VarSourceConfig } from './config.js';
import { entryIdentifier, entryLocation } from './config-location.js';
import { validateIdentifier } from './identifier.js';
import type { SectionResult } from './section-result.js';
import { varReferences } from './var-references.js';

/**
 * How a credential manager checks a var source's `config` (Concourse: `factory.NewInstance(config)` then
 * `manager.Validate()`): `createError` is reported as "failed to create credential manager", `invalid`
 * as "credential manager <name> is invalid".
 */
export type VarSourceConfigCheck = (config: unknown) => { createError?: string; invalid?: string };

/** Credential managers Concourse knows; only some may be used as pipeline var sources. */
export const CREDENTIAL_MANAGER_TYPES: readonly string[] = [
  'conjur',
  'credhub',
  'dummy',
  'idtoken',
  'kubernetes',
  'secretsmanager',
  'ssm',
  'vault',
];
export const PIPELINE_VAR_SOURCE_TYPES: readonly string[] = [
  'vault',
  'dummy',
  'ssm',
  'secretsmanager',
  'idtoken',
];

/** Go's `%T` of a decoded JSON value. */
function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return '[]interface {}';
  if (typeof value === 'object') return 'map[string]interface {}';
  if (typeof value === 'number') return 'float64';
  if (typeof value === 'boolean') return 'bool';
  return 'string';
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The checks built in: `dummy`, the common `vault` mistakes, and `credhub`/`conjur`, whose managers Concourse
 * creates empty (ignoring the config) so that they never validate. `ssm`, `secretsmanager`, `idtoken` and
 * `kubernetes` configs are accepted as written.
 */
export const DEFAULT_VAR_SOURCE_CHECKS: Readonly<Record<string, VarSourceConfigCheck>> = {
  credhub: () => ({ invalid: 'invalid URL (must be http or https)' }),
  conjur: () => ({ invalid: 'secret template should not be empty' }),
  dummy(config) {
    if (!isMap(config))
      return { createError: `invalid dummy credential manager config: ${goTypeName(config)}` };
    if (!isMap(config['vars'])) return { createError: `invalid vars config: ${goTypeName(config['vars'])}` };
    return {};
  },
  vault(config) {
    if (!isMap(config)) return { createError: 'invalid vault config format' };
    const url = typeof config['url'] === 'string' ? config['url'] : '';
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase() ?? '';
    if (scheme !== 'http' && scheme !== 'https') {
      return { invalid: `invalid scheme ${JSON.stringify(scheme)}: must be http or https` };
    }
    const host = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/.exec(url)?.[1] ?? '';
    if (host === '' || host === '[]') return { invalid: 'URL must specify a host' };
    if (config['path_prefix'] === '') return { invalid: 'path prefix must be a non-empty string' };
    const authKeys = ['client_token', 'client_token_path', 'auth_backend'];
    if (!authKeys.some((key) => typeof config[key] === 'string' && config[key] !== '')) {
      return { invalid: 'must configure client token or auth backend' };
    }
    return {};
  },
};

export interface ValidateVarSourcesOptions {
  /** Per-type config checks; defaults to {@link DEFAULT_VAR_SOURCE_CHECKS}. */
  varSourceChecks?: Readonly<Record<string, VarSourceConfigCheck>>;
}

export function validateVarSources(
  config: PipelineConfig,
  options: ValidateVarSourcesOptions = {},
): SectionResult {
  const warnings: ConfigWarning[] = [];
  const errors: string[] = [];
  const checks = options.varSourceChecks ?? DEFAULT_VAR_SOURCE_CHECKS;
  const names = new Map<string, string>();

  (config.var_sources ?? []).forEach((varSource, index) => {
    const location = entryLocation('var_sources', index);
    const identifier = entryIdentifier('var_sources', index, varSource.name);

    const check = validateIdentifier(varSource.name, identifier);
    if (check.error !== undefined) errors.push(check.error);
    if (check.warning !== undefined) warnings.push(check.warning);

    if (!CREDENTIAL_MANAGER_TYPES.includes(varSource.type)) {
      errors.push(`unknown credential manager type: ${varSource.type}`);
      return;
    }
    if (!PIPELINE_VAR_SOURCE_TYPES.includes(varSource.type)) {
      errors.push(`credential manager type ${varSource.type} is not supported in pipeline yet`);
    }
    const other = names.get(varSource.name);
    if (other !== undefined) {
      errors.push(`${other} and ${location} have the same name ('${varSource.name}')`);
    }
    names.set(varSource.name, location);

    const result = checks[varSource.type]?.(varSource.config ?? null) ?? {};
    if (result.createError !== undefined) {
      errors.push(`failed to create credential manager ${varSource.name}: ${result.createError}`);
    } else if (result.invalid !== undefined) {
      errors.push(`credential manager ${varSource.name} is invalid: ${result.invalid}`);
    }
  });

  const unresolved = unresolvableVarSources(config.var_sources ?? []);
  if (unresolved.length > 0) {
    errors.push(
      `failed to order by dependency: could not resolve inter-dependent var sources: ${unresolved.join(', ')}`,
    );
  }

  return { warnings, errors };
}

/**
 * Var sources in the order they can be set up (each after the ones its config refers to), as Concourse's
 * `OrderByDependency` orders them; `unresolved` names those whose dependencies never become available.
 */
export function orderVarSourcesByDependency(varSources: readonly VarSourceConfig[]): {
  ordered: VarSourceConfig[];
  unresolved: VarSourceConfig[];
} {
  const ordered: VarSourceConfig[] = [];
  const added = new Set<string>();
  let pending: Array<{ varSource: VarSourceConfig; dependencies: string[] }> = [];
  const ready = (dependencies: string[]): boolean =>
    dependencies.every((dependency) => added.has(dependency));

  for (const varSource of varSources) {
    const dependencies = varReferences(varSource.config)
      .map((reference) => reference.split(':'))
      .filter((parts) => parts.length > 1)
      .map((parts) => parts[0] as string);

    if (!ready(dependencies)) {
      pending.push({ varSource, dependencies });
      continue;
    }
    ordered.push(varSource);
    added.add(varSource.name);

    // Once a var source is added, pending ones that only waited for it can follow.
    const left: typeof pending = [];
    for (const entry of pending) {
      if (ready(entry.dependencies)) {
        ordered.push(entry.varSource);
        added.add(entry.varSource.name);
      } else {
        left.push(entry);
      }
    }
    pending = left;
  }
  return { ordered, unresolved: pending.map((entry) => entry.varSource) };
}

function unresolvableVarSources(varSources: readonly VarSourceConfig[]): string[] {
  return orderVarSourcesByDependency(varSources).unresolved.map((varSource) => varSource.name);
}
