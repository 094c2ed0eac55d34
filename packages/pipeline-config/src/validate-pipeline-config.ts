// The pipeline validator that `fly validate-pipeline`, `PUT P/config` and the set_pipeline step all run
// (atc/configvalidate/validate.go). Errors reject the pipeline and come one block per section:
// "invalid groups:\n\t<message>\n\t<message>\n"; warnings do not.
import type { ConfigWarning, PipelineConfig } from './config.js';
import type { SectionResult } from './section-result.js';
import { validateDisplay } from './validate-display.js';
import { validateGroups } from './validate-groups.js';
import { validateCycle, validateJobs } from './validate-jobs.js';
import { validateResources, validateTypes } from './validate-resources.js';
import { validateVarSources, type ValidateVarSourcesOptions } from './validate-var-sources.js';

export interface PipelineConfigValidation {
  errors: string[];
  warnings: ConfigWarning[];
}

export type ValidatePipelineConfigOptions = ValidateVarSourcesOptions;

/**
 * @example
 * validatePipelineConfig(config).errors
 * // ["invalid groups:\n\tgroup 'some-group' has unknown resource 'missing-resource'\n"]
 */
export function validatePipelineConfig(
  config: PipelineConfig,
  options: ValidatePipelineConfigOptions = {},
): PipelineConfigValidation {
  const warnings: ConfigWarning[] = [];
  const errors: string[] = [];
  const collect = (section: string, result: SectionResult): void => {
    warnings.push(...result.warnings);
    if (result.errors.length > 0) errors.push(formatSectionErrors(section, result.errors));
  };

  collect('groups', validateGroups(config));
  collect('resources', validateResources(config));
  const types = validateTypes(config);
  collect('resource types', types.resourceTypes);
  collect('prototypes', types.prototypes);
  collect('variable sources', validateVarSources(config, options));
  collect('jobs', validateJobs(config));
  const displayError = validateDisplay(config);
  if (displayError !== undefined) errors.push(formatSectionErrors('display config', [displayError]));
  const cycle = validateCycle(config);
  if (cycle !== undefined) errors.push(formatSectionErrors('jobs', [cycle]));

  return { errors, warnings };
}

/** Concourse's `formatErr`: a heading, then every line of every message indented by a tab. */
function formatSectionErrors(section: string, messages: readonly string[]): string {
  const lines = messages.join('\n').split('\n');
  return `invalid ${section}:\n${lines.map((line) => `\t${line}`).join('\n')}\n`;
}
