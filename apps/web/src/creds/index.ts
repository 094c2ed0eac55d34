// Credential managers and the `((var))` resolvers built on them (Concourse's atc/creds).
export { noCredentials, type CredentialManager, type SecretLookupContext } from './credential-manager.js';
export {
  StaticCredentialManager,
  FileCredentialManager,
  CredentialsFileError,
  secretLookupPaths,
} from './static-credential-manager.js';
export {
  KubernetesCredentialManager,
  KubernetesSecretPathError,
  KubernetesSecretReadError,
  DEFAULT_NAMESPACE_PREFIX,
  kubernetesSecretReader,
  loadKubeConfig,
  type KubernetesCredentialManagerOptions,
  type SecretReader,
} from './kubernetes-credential-manager.js';
export { CachedCredentialManager, type SecretCacheOptions } from './cached-credential-manager.js';
export {
  RetryingCredentialManager,
  DEFAULT_SECRET_RETRY,
  type SecretRetryOptions,
} from './retrying-credential-manager.js';
export {
  pipelineVarsResolver,
  MissingVarSourceError,
  type PipelineVarsContext,
} from './pipeline-vars-resolver.js';
export { interpolateString, UndefinedVarError } from './interpolate-string.js';
export {
  DummyVarSource,
  UnsupportedVarSourceError,
  VarSourceSetupError,
  setUpVarSources,
} from './var-sources.js';
export {
  createCredentialManager,
  parseCredentialSettings,
  type CredentialSettings,
} from './credentials-config.js';
export { undefinedCredentialVars } from './credential-check.js';
export { resolveStaticVars, NonPrimitiveVarError } from './static-vars.js';
