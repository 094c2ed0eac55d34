// What a node collecting a step after a restart must hide in its output: the secrets the node that ran the
// build redacted. That node's redactor lived in memory, holding every value its vars resolver yielded. The
// stored plan keeps its `((var))` references uninterpolated (the engine resolves them at step run time, as
// Concourse does), so the refs are read back from it — plus the refs the running node recorded as it resolved
// them (names only: task configs from files are not in the plan) — and resolved again through the same
// resolver (team, pipeline, var_sources, cluster credential manager). When that cannot be done, the output is
// withheld: never written unredacted.
import type { BuildRecord, Database, Kysely } from '@jetbridge/db';
import { parseVarReference, Redactor, type VarReference, type VarsResolver } from '@jetbridge/exec';
import { buildVarsResolver } from '../creds/build-vars-resolver.js';
import type { CredentialManager } from '../creds/credential-manager.js';
import { MissingVarSourceError } from '../creds/pipeline-vars-resolver.js';

export type RecoveryRedaction =
  | { kind: 'redact'; redactor: Redactor }
  /** `reason` names no secret value: it is shown in the build log. */
  | { kind: 'withheld'; reason: string };

const VAR_REFERENCE = /\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)/gu;

/** Every `((var))` reference in the strings and map keys of `plan`, each once (unparseable ones skipped). */
export function planVarRefs(plan: unknown): VarReference[] {
  const names = new Set<string>();
  const scan = (text: string): void => {
    for (const match of text.matchAll(VAR_REFERENCE)) if (match[1] !== undefined) names.add(match[1]);
  };
  const visit = (node: unknown): void => {
    if (typeof node === 'string') scan(node);
    else if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) {
        scan(key);
        visit(child);
      }
    }
  };
  visit(plan);
  const refs: VarReference[] = [];
  for (const name of names) {
    try {
      refs.push(parseVarReference(name));
    } catch {
      // The engine fails such a step before it runs: no value of it can be in any output.
    }
  }
  return refs;
}

/** Whether the plan has a `load_var` step whose value is redacted (no `reveal: true`). */
export function hasRedactedLoadVar(plan: unknown): boolean {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const record = node as Record<string, unknown>;
    const loadVar = record['load_var'];
    if (
      typeof loadVar === 'object' &&
      loadVar !== null &&
      (loadVar as { reveal?: unknown }).reveal !== true
    ) {
      found = true;
      return;
    }
    Object.values(record).forEach(visit);
  };
  visit(plan);
  return found;
}

/**
 * The redactor for the recovered output of `build`: every value its plan's refs and its `recordedRefs`
 * resolve to. Withheld when some cannot be resolved now (credential manager unreachable, pipeline gone) or
 * when the build holds values no resolver can give again (a redacted `load_var`).
 */
export async function recoveryRedaction(options: {
  db: Kysely<Database>;
  credentials: CredentialManager;
  build: Pick<BuildRecord, 'teamName' | 'pipelineId' | 'plan'>;
  recordedRefs?: readonly VarReference[];
}): Promise<RecoveryRedaction> {
  const { build } = options;
  if (hasRedactedLoadVar(build.plan)) {
    return {
      kind: 'withheld',
      reason: 'the build loaded values with load_var that this node cannot know to redact them',
    };
  }
  const refs = uniqueRefs([...planVarRefs(build.plan), ...(options.recordedRefs ?? [])]);
  const redactor = new Redactor([]);
  if (refs.length === 0) return { kind: 'redact', redactor };
  let resolver: VarsResolver;
  try {
    resolver = await buildVarsResolver(options.db, options.credentials, build);
  } catch (err) {
    return { kind: 'withheld', reason: `its secrets could not be resolved: ${messageOf(err)}` };
  }
  for (const ref of refs) {
    let found: { value: unknown } | undefined;
    try {
      found = await resolver.lookup(ref.source === undefined ? { path: ref.path } : ref);
    } catch (err) {
      // `((.:name))` is a build-local var (load_var, across); with var sources declared, the resolver refuses
      // the `.` source — then the original node had the local var and resolved nothing here either.
      if (ref.source === '.' && err instanceof MissingVarSourceError) continue;
      return {
        kind: 'withheld',
        reason: `its secrets could not be resolved (((${refName(ref)}))): ${messageOf(err)}`,
      };
    }
    // Undefined: the step using it failed to interpolate (or has not run yet) — nothing of it was shown.
    if (found !== undefined) track(redactor, fieldOf(found.value, ref.fields));
  }
  return { kind: 'redact', redactor };
}

function uniqueRefs(refs: readonly VarReference[]): VarReference[] {
  const byKey = new Map<string, VarReference>();
  for (const ref of refs) byKey.set(JSON.stringify([ref.source ?? null, ref.path, ref.fields]), ref);
  return [...byKey.values()];
}

function refName(ref: VarReference): string {
  return `${ref.source === undefined ? '' : `${ref.source}:`}${[ref.path, ...ref.fields].join('.')}`;
}

/** The field the ref points at; the whole value when it has no such field (redacting more, never less). */
function fieldOf(value: unknown, fields: readonly string[]): unknown {
  let current = value;
  for (const field of fields) {
    if (!isMap(current) || !Object.hasOwn(current, field)) return value;
    current = current[field];
  }
  return current;
}

/** As the engine's vars tracker: every string leaf of maps (lists and numbers are not tracked). */
function track(redactor: Redactor, value: unknown): void {
  if (typeof value === 'string') redactor.add(value);
  else if (isMap(value)) for (const child of Object.values(value)) track(redactor, child);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
