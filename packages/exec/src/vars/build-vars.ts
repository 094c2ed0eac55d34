// The vars a running build sees (Concourse's buildVariables, atc/exec/build_vars.go): build-local vars
// (`((.:name))` from load_var, across and get metadata) in nested scopes, then the credential managers.
// Every value a credential manager yields, and every local var set with `redact`, is given to the redactor.
import type { Redactor } from '../redactor.js';
import type { VarLookup } from './interpolate.js';
import { isPlainObject, traverseVar, varReferenceToString } from './var-reference.js';

/**
 * Where `((var))` values come from besides the build itself: the pipeline's `var_sources` and the cluster's
 * credential manager. Implemented by the web layer (credential managers); the engine traverses fields.
 *
 * @example
 * // ((vault:db.password)) → lookup({ source: 'vault', path: 'db' }), then the engine reads `.password`
 */
export interface VarsResolver {
  /**
   * The whole value of `((source:path))`, or undefined when it does not exist. `source` is absent for the
   * cluster credential manager, and `.` for a local var the build does not have (Concourse then looks the
   * path up in the credential manager when the pipeline has no var_sources, else fails with
   * `missing source '.' in var: ...`). Rejects when the lookup itself fails (the step errors).
   */
  lookup(ref: { source?: string; path: string }): Promise<{ value: unknown } | undefined>;
}

export class BuildVars {
  private readonly locals = new Map<string, unknown>();

  constructor(
    private readonly resolver: VarsResolver | undefined,
    private readonly redactor: Redactor,
    private readonly parent?: BuildVars,
  ) {}

  /** A child scope (an across combination): its local vars are not visible to this scope. */
  newLocalScope(): BuildVars {
    return new BuildVars(this.resolver, this.redactor, this);
  }

  /** Set `((.:name))` for later steps in this scope; `redact` hides its string leaves in logs. */
  addLocalVar(name: string, value: unknown, redact: boolean): void {
    this.locals.set(name, value);
    if (redact) this.track(value);
  }

  /** Whether this scope or an enclosing one has the local var `name`. */
  hasLocalVar(name: string): boolean {
    return this.locals.has(name) || (this.parent?.hasLocalVar(name) ?? false);
  }

  /** Resolve one reference: local vars first for `.`, then the resolver (whose values are tracked). */
  readonly lookup: VarLookup = async (ref) => {
    if (ref.source === '.') {
      const local = this.findLocal(ref.path);
      if (local.found) {
        return {
          found: true,
          value: traverseVar(local.value, varReferenceToString({ ...ref, source: undefined }), ref.fields),
        };
      }
    }
    if (this.resolver === undefined) return { found: false };
    const result = await this.resolver.lookup(
      ref.source === undefined ? { path: ref.path } : { source: ref.source, path: ref.path },
    );
    if (result === undefined) return { found: false };
    const value = traverseVar(result.value, varReferenceToString(ref), ref.fields);
    this.track(value);
    return { found: true, value };
  };

  private findLocal(name: string): { found: true; value: unknown } | { found: false } {
    if (this.locals.has(name)) return { found: true, value: this.locals.get(name) };
    return this.parent?.findLocal(name) ?? { found: false };
  }

  /** Redact every string leaf of a value (vars.Tracker: maps are walked, lists and numbers are not). */
  private track(value: unknown): void {
    if (typeof value === 'string') this.redactor.add(value);
    else if (isPlainObject(value)) for (const child of Object.values(value)) this.track(child);
  }
}

/** Lookup in fixed vars (a task's `vars:`): only references without a source are found. */
export function staticVarsLookup(vars: Record<string, unknown>): VarLookup {
  return async (ref) => {
    if (ref.source !== undefined && ref.source !== '') return { found: false };
    if (!Object.hasOwn(vars, ref.path)) return { found: false };
    return { found: true, value: traverseVar(vars[ref.path], varReferenceToString(ref), ref.fields) };
  };
}
