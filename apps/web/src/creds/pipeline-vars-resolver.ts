// The `((var))` source of a pipeline's builds and checks (Concourse's buildVariables over
// creds.NewVariables): the cluster credential manager in the pipeline's context. Pipeline `var_sources` are
// not implemented yet; as in Concourse, a `source:` prefix is ignored when the pipeline declares none, and
// names a missing source when it does.
import { parseVarReference, type VarsResolver } from '@jetbridge/exec';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

/** A ref names a var source the pipeline does not declare (vars.MissingSourceError). */
export class MissingVarSourceError extends Error {
  constructor(source: string, name: string) {
    super(`missing source '${source}' in var: ${name}`);
    this.name = 'MissingVarSourceError';
  }
}

/** A ref names one of the pipeline's var sources, which JetBridge cannot read yet. */
export class UnsupportedVarSourceError extends Error {
  constructor(source: string) {
    super(`var source '${source}' is not supported by JetBridge yet`);
    this.name = 'UnsupportedVarSourceError';
  }
}

export interface PipelineVarsContext extends SecretLookupContext {
  /** Names of the pipeline's `var_sources`. */
  varSources?: readonly string[];
}

export function pipelineVarsResolver(manager: CredentialManager, context: PipelineVarsContext): VarsResolver {
  const varSources = context.varSources ?? [];
  const lookupContext: SecretLookupContext = {
    teamName: context.teamName,
    ...(context.pipelineName === undefined ? {} : { pipelineName: context.pipelineName }),
  };
  return {
    async lookup(ref) {
      if (ref.source !== undefined && varSources.length > 0) {
        if (varSources.includes(ref.source)) throw new UnsupportedVarSourceError(ref.source);
        throw new MissingVarSourceError(ref.source, `${ref.source}:${ref.path}`);
      }
      return manager.lookup(lookupContext, ref.path);
    },
  };
}

/** `((var))` references in a string such as a webhook token (vars.Template's reference syntax). */
const VAR_PATTERN = /\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)/gu;

/** A var of a string template that resolved to nothing (vars.UndefinedVarsError). */
export class UndefinedVarError extends Error {
  constructor(names: readonly string[]) {
    super(`undefined vars: ${names.join(', ')}`);
    this.name = 'UndefinedVarError';
  }
}

/**
 * Interpolate every `((var))` of `text` (creds.NewString(...).Evaluate): each must resolve to a string or a
 * number. Used for values read outside builds, such as a resource's `webhook_token`.
 */
export async function interpolateString(text: string, vars: VarsResolver): Promise<string> {
  const undefinedNames: string[] = [];
  const replacements = new Map<string, string>();
  for (const match of text.matchAll(VAR_PATTERN)) {
    const name = match[1] ?? '';
    if (replacements.has(name)) continue;
    const ref = parseVarReference(name);
    const found = await vars.lookup(
      ref.source === undefined ? { path: ref.path } : { source: ref.source, path: ref.path },
    );
    if (found === undefined) {
      undefinedNames.push(name);
      continue;
    }
    let value: unknown = found.value;
    for (const field of ref.fields) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, field)) {
        throw new Error(`missing field '${field}' in var: ${name}`);
      }
      value = (value as Record<string, unknown>)[field];
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`cannot interpolate non-primitive value into string: ${name}`);
    }
    replacements.set(name, String(value));
  }
  if (undefinedNames.length > 0) throw new UndefinedVarError(undefinedNames);
  return text.replace(VAR_PATTERN, (whole, name: string) => replacements.get(name) ?? whole);
}
