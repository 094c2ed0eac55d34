// `fly set-pipeline --check-creds` (configserver validateCredParams): the pipeline's vars are looked up in
// the cluster's credential manager only (var_sources are not consulted, and a `source:` prefix is ignored,
// as creds.NewVariables does) before the config is saved.
import { parseVarReference } from '@jetbridge/exec';
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

/**
 * The names among `names` (`((name))` texts) that the credential manager does not define, in order.
 * Rejects when the manager cannot answer.
 */
export async function undefinedCredentialVars(
  manager: CredentialManager,
  context: SecretLookupContext,
  names: readonly string[],
): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    const ref = parseVarReference(name);
    if ((await manager.lookup(context, ref.path)) === undefined) missing.push(name);
  }
  return missing;
}
