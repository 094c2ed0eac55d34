// The cluster-wide credential manager (Concourse's atc/creds: `creds.Secrets` with its lookup paths). A
// build asks for `((path))` in the context of its team and pipeline; each manager decides where that
// lives. Implementations (this folder): StaticCredentialManager and FileCredentialManager (a fixed map or a
// file), KubernetesCredentialManager (Secrets in a namespace per team); CachedCredentialManager wraps any.

/** Who is asking: the build's team and pipeline (one-off builds have no pipeline). */
export interface SecretLookupContext {
  teamName: string;
  pipelineName?: string;
}

export interface CredentialManager {
  /**
   * The whole value of the secret `path` (a string or a map whose keys become `((path.field))`), or
   * undefined when it does not exist. Rejects when the manager cannot answer (the step then errors).
   */
  lookup(context: SecretLookupContext, path: string): Promise<{ value: unknown } | undefined>;
}

/** A credential manager that knows no secret: every `((var))` is undefined. */
export const noCredentials: CredentialManager = {
  lookup: async () => undefined,
};
