// `PUT P/config` and the set_pipeline step start here: text → typed config, or the errors Concourse would
// answer with (`400 {"errors": [...]}`). Validation is a separate step (validatePipelineConfig).
import type { PipelineConfig } from './config.js';
import { decodePipelineConfig } from './decode-config.js';
import { GoJsonError } from './go-json.js';
import { readYamlSource } from './yaml-source.js';

export type ParsePipelineConfigResult =
  { config: PipelineConfig; errors?: undefined } | { config?: undefined; errors: string[] };

/** The content types `PUT P/config` accepts; anything else is answered with 415 by the API layer. */
export const PIPELINE_CONFIG_CONTENT_TYPES = ['application/json', 'application/x-yaml'] as const;

/**
 * Parse a pipeline config written as YAML or JSON (Concourse reads both with its YAML reader, so the
 * content type does not change the result). `((vars))` are plain strings here; they are interpolated later.
 * Fields that need a typed value (`trigger`, `attempts`, `check_every`...) must be resolved before saving,
 * as in Concourse.
 *
 * Errors are worded as the Concourse API words them: `malformed config: error converting YAML to JSON:
 * yaml: line 3, column 5: ...` for syntax errors and duplicate keys, `malformed config: error unmarshaling
 * JSON: while decoding JSON: json: unknown field "x"` for decoding errors.
 *
 * @example
 * const { config, errors } = parsePipelineConfig('jobs: [{name: j, plan: [{get: repo}]}]');
 */
export function parsePipelineConfig(text: string, contentType?: string): ParsePipelineConfigResult {
  void contentType; // JSON is YAML to Concourse's reader; the parameter documents what the caller received
  const source = readYamlSource(text);
  if (!source.ok) {
    return {
      errors: source.errors.map((error) => `malformed config: error converting YAML to JSON: ${error}`),
    };
  }
  try {
    return { config: decodePipelineConfig(source.value) };
  } catch (error) {
    if (error instanceof GoJsonError) {
      return { errors: [`malformed config: error unmarshaling JSON: while decoding JSON: ${error.message}`] };
    }
    throw error;
  }
}
