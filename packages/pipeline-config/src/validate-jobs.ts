// Jobs (configvalidate `validateJobs`, `validateCycle`): names, build log retention, every step of the plan
// and hooks, and cycles through `passed:`.
import type { ConfigWarning, JobConfig, PipelineConfig } from './config.js';
import { entryIdentifier, entryLocation } from './config-location.js';
import { validateIdentifier } from './identifier.js';
import { jobStepConfig, visitBaseSteps } from './job-step.js';
import { goPathMatch } from './path-match.js';
import type { SectionResult } from './section-result.js';
import { StepValidator } from './step-validator.js';

export function validateJobs(config: PipelineConfig): SectionResult {
  const warnings: ConfigWarning[] = [];
  const errors: string[] = [];
  const jobs = config.jobs ?? [];

  if (jobs.length === 0) {
    errors.push('jobs: pipeline must contain at least one job');
    return { warnings, errors };
  }

  const names = new Map<string, string>();
  jobs.forEach((job, index) => {
    const location = entryLocation('jobs', index);
    const identifier = entryIdentifier('jobs', index, job.name);

    const check = validateIdentifier(job.name, identifier);
    if (check.error !== undefined) errors.push(check.error);
    if (check.warning !== undefined) warnings.push(check.warning);

    const other = names.get(job.name);
    if (other !== undefined) {
      errors.push(`${other} and ${location} have the same name ('${job.name}')`);
    } else if (job.name !== '') {
      names.set(job.name, location);
    }
    if (job.name === '') errors.push(`${identifier} has no name`);

    const logsToRetain = job.build_logs_to_retain ?? 0;
    if (logsToRetain !== 0) {
      warnings.push({
        type: 'deprecated_field',
        message: `${identifier}.build_logs_to_retain is deprecated. Use build_log_retention instead.`,
      });
    }
    const retention = job.build_log_retention;
    if (retention !== undefined && logsToRetain !== 0) {
      errors.push(`${identifier} can't use both build_log_retention and build_logs_to_retain`);
    } else if (logsToRetain < 0) {
      errors.push(`${identifier} has negative build_logs_to_retain: ${logsToRetain}`);
    }
    if (retention !== undefined) {
      const builds = retention.builds ?? 0;
      const days = retention.days ?? 0;
      const minimumSucceeded = retention.minimum_succeeded_builds ?? 0;
      if (builds < 0) errors.push(`${identifier} has negative build_log_retention.builds: ${builds}`);
      if (days < 0) errors.push(`${identifier} has negative build_log_retention.days: ${days}`);
      if (minimumSucceeded < 0) {
        errors.push(`${identifier} has negative build_log_retention.min_success_builds: ${minimumSucceeded}`);
      }
      // Concourse's message names min_success_builds twice; kept as it is.
      if (builds > 0 && minimumSucceeded > builds) {
        errors.push(
          `${identifier} has build_log_retention.min_success_builds: ${minimumSucceeded} greater than build_log_retention.min_success_builds: ${builds}`,
        );
      }
    }

    const validator = new StepValidator(config, [identifier, '.plan']);
    validator.validate({ config: jobStepConfig(job) });
    warnings.push(...validator.warnings);
    errors.push(...validator.errors);
  });

  return { warnings, errors };
}

/** The first cycle through `passed:` (job globs included), checked from each job in turn. */
export function validateCycle(config: PipelineConfig): string | undefined {
  const jobs = config.jobs ?? [];
  for (const job of jobs) {
    const cycle = detectCycle(job, new Map(), jobs);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

function detectCycle(
  job: JobConfig,
  state: Map<string, 'visiting' | 'visited'>,
  jobs: readonly JobConfig[],
): string | undefined {
  const current = state.get(job.name);
  if (current === 'visiting') return `pipeline contains a cycle that starts at Job '${job.name}'`;
  if (current === 'visited') return undefined;
  state.set(job.name, 'visiting');

  let cycle: string | undefined;
  visitBaseSteps(jobStepConfig(job), {
    onGet(step) {
      if (cycle !== undefined) return;
      for (const upstreamGlob of step.passed ?? []) {
        for (const upstream of jobs) {
          if (cycle === undefined && goPathMatch(upstreamGlob, upstream.name)) {
            cycle = detectCycle(upstream, state, jobs);
          }
        }
      }
    },
  });
  if (cycle !== undefined) return cycle;

  state.set(job.name, 'visited');
  return undefined;
}
