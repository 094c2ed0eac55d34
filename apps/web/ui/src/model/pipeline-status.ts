import type { BuildStatus, Job, Pipeline } from '../api/types.js';

/**
 * A pipeline's status on the dashboard, as Concourse derives it: archived and paused first, then the most
 * important status among its jobs' latest finished builds (failed > errored > aborted > succeeded > pending),
 * flagged running while any job has a build in flight.
 */
export type PipelineStatusName =
  'archived' | 'paused' | 'failed' | 'errored' | 'aborted' | 'succeeded' | 'pending';

export interface PipelineStatus {
  status: PipelineStatusName;
  running: boolean;
}

const IMPORTANCE: readonly BuildStatus[] = ['failed', 'errored', 'aborted', 'succeeded', 'pending'];

/** The status a job shows: its latest finished build's, or pending when it never finished one. */
export function jobStatus(job: Job): BuildStatus {
  return job.finished_build?.status ?? 'pending';
}

/** Whether a job has a build pending or running. */
export function jobIsRunning(job: Job): boolean {
  return job.next_build !== undefined && job.next_build !== null;
}

export function pipelineStatus(pipeline: Pipeline, jobs: readonly Job[]): PipelineStatus {
  const running = jobs.some(jobIsRunning);
  if (pipeline.archived) return { status: 'archived', running: false };
  if (pipeline.paused) return { status: 'paused', running };
  let best: BuildStatus = 'pending';
  let bestRank = IMPORTANCE.length;
  for (const job of jobs) {
    if (job.paused) continue;
    const rank = IMPORTANCE.indexOf(jobStatus(job));
    if (rank !== -1 && rank < bestRank) {
      bestRank = rank;
      best = jobStatus(job);
    }
  }
  return { status: best as PipelineStatusName, running };
}
