// Which build logs a job keeps (Concourse's atc/gc/build_log_retention_calculator.go and the walk of
// build_log_collector.go; concourse-semantics.md §8). Pure functions: the reaper feeds them the job's config
// and its builds not reaped yet.

export interface BuildLogRetention {
  /** Keep the logs of this many builds (0 = no count limit). */
  builds: number;
  /** Keep the logs of builds that ended within this many days (0 = no age limit). */
  days: number;
  /** Of the kept builds, this many succeeded ones are kept whatever their position (only with `builds`). */
  minimumSucceededBuilds: number;
}

/** `--default-build-logs-to-retain`, `--max-build-logs-to-retain`, and their `days` twins (0 = none). */
export interface BuildLogRetentionLimits {
  defaultBuilds: number;
  maxBuilds: number;
  defaultDays: number;
  maxDays: number;
}

export const NO_RETENTION_LIMITS: BuildLogRetentionLimits = {
  defaultBuilds: 0,
  maxBuilds: 0,
  defaultDays: 0,
  maxDays: 0,
};

/**
 * The job's policy: `build_log_retention`, or else the deprecated `build_logs_to_retain` as `builds`; zero
 * fields take the defaults; then the maxima cap them (a zero maximum caps nothing).
 */
export function effectiveRetention(
  jobConfig: Record<string, unknown>,
  limits: BuildLogRetentionLimits = NO_RETENTION_LIMITS,
): BuildLogRetention {
  const retention = jobConfig['build_log_retention'];
  let builds: number;
  let days = 0;
  let minimumSucceededBuilds = 0;
  if (typeof retention === 'object' && retention !== null) {
    const fields = retention as Record<string, unknown>;
    builds = count(fields['builds']);
    days = count(fields['days']);
    minimumSucceededBuilds = count(fields['minimum_succeeded_builds']);
  } else {
    builds = count(jobConfig['build_logs_to_retain']);
  }
  if (builds === 0) builds = limits.defaultBuilds;
  if (days === 0) days = limits.defaultDays;
  if (limits.maxBuilds === 0 && limits.maxDays === 0) return { builds, days, minimumSucceededBuilds };

  const capped = { builds: limits.maxBuilds, days: limits.maxDays, minimumSucceededBuilds: 0 };
  if (capped.builds === 0 || (builds > 0 && builds < capped.builds)) capped.builds = builds;
  if (capped.days === 0 || (days > 0 && days < capped.days)) capped.days = days;
  if (minimumSucceededBuilds <= capped.builds) capped.minimumSucceededBuilds = minimumSucceededBuilds;
  return capped;
}

export interface RetainableBuild {
  id: number;
  status: string;
  endTime: Date | null;
}

export interface ReapDecision {
  /** Builds whose events go. */
  reap: number[];
  /** The oldest build still logged (or running); 0 when none — the job's `first_logged_build_id`. */
  firstLoggedBuildId: number;
}

/**
 * Walk the job's unreaped builds newest first: running builds are skipped (and stay logged); succeeded
 * builds are kept up to `minimumSucceededBuilds`; any build while fewer than `builds` are kept; any that
 * ended within `days`; the rest are reaped. Kept builds beyond `builds` (the succeeded minimum and the
 * recent ones add up) give up their logs, oldest of the counted ones first.
 */
export function decideReaping(
  newestFirst: readonly RetainableBuild[],
  retention: BuildLogRetention,
  now: Date,
): ReapDecision {
  const reap: number[] = [];
  if (retention.builds === 0 && retention.days === 0) return { reap, firstLoggedBuildId: 0 };
  const candidates: number[] = [];
  let retained = 0;
  let retainedSucceeded = 0;
  let firstLoggedBuildId = 0;
  for (const build of newestFirst) {
    if (build.status === 'pending' || build.status === 'started') {
      firstLoggedBuildId = build.id;
      continue;
    }
    if (retention.builds !== 0) {
      if (
        retention.minimumSucceededBuilds !== 0 &&
        build.status === 'succeeded' &&
        retainedSucceeded < retention.minimumSucceededBuilds
      ) {
        retained++;
        retainedSucceeded++;
        firstLoggedBuildId = build.id;
        continue;
      }
      if (retained < retention.builds) {
        retained++;
        candidates.push(build.id);
        firstLoggedBuildId = build.id;
        continue;
      }
    }
    if (retention.days !== 0 && !expired(build, retention.days, now)) {
      retained++;
      candidates.push(build.id);
      firstLoggedBuildId = build.id;
      continue;
    }
    reap.push(build.id);
  }
  // Concourse only trims the excess when the walk reaped something.
  if (reap.length > 0 && retention.builds !== 0 && retained > retention.builds) {
    const excess = Math.min(retained - retention.builds, candidates.length);
    reap.push(...candidates.slice(candidates.length - excess));
  }
  return { reap, firstLoggedBuildId };
}

/** Ended more than `days` calendar days ago (Go's AddDate: same wall-clock time, `days` days later). */
function expired(build: RetainableBuild, days: number, now: Date): boolean {
  if (build.endTime === null) return false;
  const until = new Date(build.endTime);
  until.setDate(until.getDate() + days);
  return until.getTime() < now.getTime();
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 0;
}
