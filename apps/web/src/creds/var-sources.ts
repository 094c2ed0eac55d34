// Pipeline `var_sources` (Concourse's pipeline.Variables over creds.ManagerFactories): each declared source
// becomes a credential manager of its type, set up in dependency order with its `config` interpolated by the
// cluster's credential manager and the sources before it. `((name:path))` then asks source `name`, which
// also tries the root path (`allowRootPath`). Concourse 8.2.5 allows vault, dummy, ssm, secretsmanager and
// idtoken in pipelines; JetBridge implements `dummy` and says so for the others.
import { parseVarReference, type VarsResolver } from '@jetbridge/exec';
import { orderVarSourcesByDependency, type VarSourceConfig } from '@jetbridge/pipeline-config';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';
import { interpolateString } from './interpolate-string.js';

/** A var source whose type JetBridge cannot read (yet). */
export class UnsupportedVarSourceError extends Error {
  constructor(source: string, type?: string) {
    super(
      type === undefined
        ? `var source '${source}' is not supported by JetBridge yet`
        : `var source '${source}' of type '${type}' is not supported by JetBridge yet`,
    );
    this.name = 'UnsupportedVarSourceError';
  }
}

/** A var source that could not be set up (Concourse: "create var_source '<name>' error: ..."). */
export class VarSourceSetupError extends Error {
  constructor(source: string, reason: string) {
    super(`create var_source '${source}' error: ${reason}`);
    this.name = 'VarSourceSetupError';
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The `dummy` credential manager: `config.vars` looked up as `<team>/<pipeline>/<name>`, `<team>/<name>`, then
 * `<name>` (its lookup paths always include the root).
 */
export class DummyVarSource implements CredentialManager {
  constructor(private readonly vars: Readonly<Record<string, unknown>>) {}

  static fromConfig(name: string, config: unknown): DummyVarSource {
    if (!isMap(config)) throw new VarSourceSetupError(name, 'invalid dummy credential manager config');
    const vars = config['vars'];
    if (!isMap(vars)) throw new VarSourceSetupError(name, 'invalid vars config');
    return new DummyVarSource(vars);
  }

  async lookup(context: SecretLookupContext, path: string): Promise<{ value: unknown } | undefined> {
    const paths: string[] = [];
    if (context.pipelineName !== undefined && context.pipelineName !== '') {
      paths.push(`${context.teamName}/${context.pipelineName}/${path}`);
    }
    paths.push(`${context.teamName}/${path}`, path);
    for (const candidate of paths) {
      if (Object.hasOwn(this.vars, candidate)) return { value: this.vars[candidate] };
    }
    return undefined;
  }
}

const WHOLE_VAR = /^\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)$/u;

/** Interpolate a var source's config (creds.NewParams(...).Evaluate): every var must resolve. */
async function interpolateConfig(value: unknown, vars: VarsResolver): Promise<unknown> {
  if (typeof value === 'string') {
    const whole = WHOLE_VAR.exec(value);
    if (whole === null) return value.includes('((') ? interpolateString(value, vars) : value;
    const ref = parseVarReference(whole[1] ?? '');
    const found = await vars.lookup(
      ref.source === undefined ? { path: ref.path } : { source: ref.source, path: ref.path },
    );
    if (found === undefined) throw new Error(`undefined vars: ${whole[1] ?? ''}`);
    let current = found.value;
    for (const field of ref.fields) {
      if (!isMap(current) || !Object.hasOwn(current, field)) {
        throw new Error(`missing field '${field}' in var: ${whole[1] ?? ''}`);
      }
      current = current[field];
    }
    return current;
  }
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) items.push(await interpolateConfig(item, vars));
    return items;
  }
  if (isMap(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) result[key] = await interpolateConfig(child, vars);
    return result;
  }
  return value;
}

/** A credential manager for one declared var source, from its (interpolated) config. */
function varSourceManager(varSource: VarSourceConfig, config: unknown): CredentialManager {
  switch (varSource.type) {
    case 'dummy':
      return DummyVarSource.fromConfig(varSource.name, config);
    default:
      throw new UnsupportedVarSourceError(varSource.name, varSource.type);
  }
}

/**
 * Set up every var source of a pipeline, in dependency order. `lookupVar` resolves refs for their configs:
 * the cluster manager for plain refs, the sources set up so far for `name:` refs.
 */
export async function setUpVarSources(
  varSources: readonly VarSourceConfig[],
  lookupVar: (named: ReadonlyMap<string, CredentialManager>) => VarsResolver,
): Promise<Map<string, CredentialManager>> {
  const named = new Map<string, CredentialManager>();
  const { ordered, unresolved } = orderVarSourcesByDependency(varSources);
  if (unresolved.length > 0) {
    throw new Error(
      `could not resolve inter-dependent var sources: ${unresolved.map((source) => source.name).join(', ')}`,
    );
  }
  for (const varSource of ordered) {
    if (varSource.type !== 'dummy') {
      // Never interpolate (and so never fetch secrets for) a source JetBridge cannot use anyway.
      named.set(varSource.name, unsupportedSource(varSource));
      continue;
    }
    let config: unknown;
    try {
      config = await interpolateConfig(varSource.config ?? null, lookupVar(named));
    } catch (error) {
      throw new Error(`evaluate var_source '${varSource.name}' error: ${(error as Error).message}`);
    }
    named.set(varSource.name, varSourceManager(varSource, config));
  }
  return named;
}

function unsupportedSource(varSource: VarSourceConfig): CredentialManager {
  return {
    lookup: async () => {
      throw new UnsupportedVarSourceError(varSource.name, varSource.type);
    },
  };
}
