export {
  parseWebConfig,
  helpText,
  ConfigError,
  parseByteSize,
  type WebConfig,
  type LocalUser,
} from './parse.js';
export { optionSpecs, type OptionSpec } from './options.js';
