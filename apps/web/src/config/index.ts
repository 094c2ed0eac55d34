export {
  parseWebConfig,
  helpText,
  ConfigError,
  parseByteSize,
  type WebConfig,
  type LocalUser,
} from './parse.js';
export {
  SecretText,
  type KubernetesRuntimeSettings,
  type KubernetesArtifactSettings,
  type NodeLocalArtifactSettings,
  type PlacementSetting,
} from './kubernetes.js';
export { optionSpecs, type OptionSpec } from './options.js';
