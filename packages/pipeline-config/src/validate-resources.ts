// Resources, resource types and prototypes (configvalidate `validateResources`, `validateResourceTypes`,
// `validatePrototypes`, `validateResourcesUnused`). Resource types and prototypes share one namespace.
import type { ConfigWarning, PipelineConfig } from './config.js';
import { entryIdentifier, entryLocation } from './config-location.js';
import { validateIdentifier } from './identifier.js';
import { jobStepConfig, visitBaseSteps } from './job-step.js';
import type { SectionResult } from './section-result.js';
import { stepResourceName } from './steps.js';

interface NamedTyped {
  name: string;
  type: string;
}

/** Checks names and types of one section; `seen` maps names to the location that first used them. */
function validateNamedEntries(
  section: string,
  entries: readonly NamedTyped[],
  seen: Map<string, string>,
  warnings: ConfigWarning[],
  errors: string[],
): void {
  entries.forEach((entry, index) => {
    const location = entryLocation(section, index);
    const identifier = entryIdentifier(section, index, entry.name);

    const check = validateIdentifier(entry.name, identifier);
    if (check.error !== undefined) errors.push(check.error);
    if (check.warning !== undefined) warnings.push(check.warning);

    const other = seen.get(entry.name);
    if (other !== undefined) {
      errors.push(`${other} and ${location} have the same name ('${entry.name}')`);
    } else if (entry.name !== '') {
      seen.set(entry.name, location);
    }

    if (entry.name === '') errors.push(`${identifier} has no name`);
    if (entry.type === '') errors.push(`${identifier} has no type`);
  });
}

export function validateResources(config: PipelineConfig): SectionResult {
  const warnings: ConfigWarning[] = [];
  const errors: string[] = [];
  validateNamedEntries('resources', config.resources ?? [], new Map(), warnings, errors);

  // A resource no get or put uses is an error, not a warning.
  const used = usedResources(config);
  for (const resource of config.resources ?? []) {
    if (!used.has(resource.name)) errors.push(`resource '${resource.name}' is not used`);
  }
  return { warnings, errors };
}

/** Validates resource types then prototypes, which must not reuse a resource type's name. */
export function validateTypes(config: PipelineConfig): {
  resourceTypes: SectionResult;
  prototypes: SectionResult;
} {
  const seenTypes = new Map<string, string>();
  const resourceTypes: SectionResult = { warnings: [], errors: [] };
  validateNamedEntries(
    'resource_types',
    config.resource_types ?? [],
    seenTypes,
    resourceTypes.warnings,
    resourceTypes.errors,
  );
  const prototypes: SectionResult = { warnings: [], errors: [] };
  validateNamedEntries(
    'prototypes',
    config.prototypes ?? [],
    seenTypes,
    prototypes.warnings,
    prototypes.errors,
  );
  return { resourceTypes, prototypes };
}

function usedResources(config: PipelineConfig): Set<string> {
  const used = new Set<string>();
  for (const job of config.jobs ?? []) {
    visitBaseSteps(jobStepConfig(job), {
      onGet: (step) => void used.add(stepResourceName(step)),
      onPut: (step) => void used.add(stepResourceName(step)),
    });
  }
  return used;
}
