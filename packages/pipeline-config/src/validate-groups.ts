// Groups (configvalidate `validateGroups`): job globs must compile and match a job, resources must exist,
// names are unique, and once any group exists every job must belong to one.
import type { ConfigWarning, PipelineConfig } from './config.js';
import { entryIdentifier } from './config-location.js';
import { validateIdentifier } from './identifier.js';
import { compileJobGlob } from './job-glob.js';
import type { SectionResult } from './section-result.js';

export function validateGroups(config: PipelineConfig): SectionResult {
  const warnings: ConfigWarning[] = [];
  const errors: string[] = [];
  const jobs = config.jobs ?? [];
  const groups = config.groups ?? [];

  const jobGrouped = new Map<string, boolean>(jobs.map((job) => [job.name, false]));
  const groupCounts = new Map<string, number>();

  groups.forEach((group, index) => {
    const check = validateIdentifier(group.name, entryIdentifier('groups', index, group.name));
    if (check.error !== undefined) errors.push(check.error);
    if (check.warning !== undefined) warnings.push(check.warning);

    groupCounts.set(group.name, (groupCounts.get(group.name) ?? 0) + 1);

    for (const jobGlob of group.jobs ?? []) {
      const matches = compileJobGlob(jobGlob);
      if (matches === undefined) {
        errors.push(`invalid glob expression '${jobGlob}' for group '${group.name}'`);
        continue;
      }
      let matchingJob = false;
      for (const job of jobs) {
        if (matches(job.name)) {
          jobGrouped.set(job.name, true);
          matchingJob = true;
        }
      }
      if (!matchingJob) errors.push(`no jobs match '${jobGlob}' for group '${group.name}'`);
    }

    for (const resource of group.resources ?? []) {
      if (!(config.resources ?? []).some((candidate) => candidate.name === resource)) {
        errors.push(`group '${group.name}' has unknown resource '${resource}'`);
      }
    }
  });

  for (const [name, count] of groupCounts) {
    if (count > 1) errors.push(`group '${name}' appears ${count} times. Duplicate names are not allowed.`);
  }

  if (groups.length > 0) {
    for (const [job, grouped] of jobGrouped) {
      if (!grouped) errors.push(`job '${job}' belongs to no group`);
    }
  }

  return { warnings, errors };
}
