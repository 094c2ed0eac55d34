// Credential managers and the `((var))` resolvers built on them (Concourse's atc/creds).
export { noCredentials, type CredentialManager, type SecretLookupContext } from './credential-manager.js';
export {
  StaticCredentialManager,
  FileCredentialManager,
  CredentialsFileError,
  secretLookupPaths,
} from './static-credential-manager.js';
export {
  pipelineVarsResolver,
  interpolateString,
  MissingVarSourceError,
  UnsupportedVarSourceError,
  UndefinedVarError,
  type PipelineVarsContext,
} from './pipeline-vars-resolver.js';
export { resolveStaticVars, NonPrimitiveVarError } from './static-vars.js';
