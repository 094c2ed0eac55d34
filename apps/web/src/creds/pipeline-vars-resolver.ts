// The `((var))` source of a pipeline's builds and checks (Concourse's pipeline.Variables over
// creds.NewVariables): `((name:path))` asks the pipeline's var source `name`, anything else the cluster's
// credential manager in the pipeline's context. As in Concourse, a `source:` prefix is ignored when the
// pipeline declares no var sources, and names a missing source when it declares some.
import type { VarsResolver } from '@jetbridge/exec';
import type { VarSourceConfig } from '@jetbridge/pipeline-config';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';
import { setUpVarSources } from './var-sources.js';

/** A ref names a var source the pipeline does not declare (vars.MissingSourceError). */
export class MissingVarSourceError extends Error {
  constructor(source: string, name: string) {
    super(`missing source '${source}' in var: ${name}`);
    this.name = 'MissingVarSourceError';
  }
}

export interface PipelineVarsContext extends SecretLookupContext {
  /** The pipeline's `var_sources`; a bare name stands for a source of a type JetBridge does not read. */
  varSources?: ReadonlyArray<VarSourceConfig | string>;
}

export function pipelineVarsResolver(manager: CredentialManager, context: PipelineVarsContext): VarsResolver {
  const declared: VarSourceConfig[] = (context.varSources ?? []).map((source) =>
    typeof source === 'string' ? { name: source, type: 'unknown' } : source,
  );
  const lookupContext: SecretLookupContext = {
    teamName: context.teamName,
    ...(context.pipelineName === undefined ? {} : { pipelineName: context.pipelineName }),
  };
  const globalLookup = (path: string) => manager.lookup(lookupContext, path);
  const resolverOver = (named: ReadonlyMap<string, CredentialManager>): VarsResolver => ({
    async lookup(ref) {
      if (ref.source === undefined || declared.length === 0) return globalLookup(ref.path);
      const source = named.get(ref.source);
      if (source === undefined) throw new MissingVarSourceError(ref.source, `${ref.source}:${ref.path}`);
      return source.lookup(lookupContext, ref.path);
    },
  });

  if (declared.length === 0) return resolverOver(new Map());
  // Set up once per resolver (a build or a check), on the first ref that needs a source.
  let sources: Promise<Map<string, CredentialManager>> | undefined;
  return {
    async lookup(ref) {
      if (ref.source === undefined) return globalLookup(ref.path);
      sources ??= setUpVarSources(declared, resolverOver);
      return resolverOver(await sources).lookup(ref);
    },
  };
}
