export {
  parseWebConfig,
  helpText,
  ConfigError,
  parseByteSize,
  type WebConfig,
  type LocalUser,
} from './parse.js';
export type {
  KubernetesRuntimeSettings,
  KubernetesArtifactSettings,
  PlacementSetting,
} from './kubernetes.js';
export { optionSpecs, type OptionSpec } from './options.js';
