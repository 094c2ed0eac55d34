import { RuntimeError } from '@jetbridge/runtime';

/**
 * A step pod did not get its main container running (image pull, unschedulable beyond the limit, failed input
 * copy, invalid spec). The message carries the diagnostic block shown in the build log; `stepName` names
 * the step, `reason` is the Kubernetes reason (ImagePullBackOff, Unschedulable, …).
 */
export class PodStartError extends RuntimeError {
  readonly httpStatus = 500;

  constructor(
    readonly podName: string,
    readonly reason: string,
    readonly diagnostic: string,
    readonly stepName?: string,
  ) {
    super(`${stepName ? `step ${stepName}: ` : ''}pod ${podName} did not start: ${diagnostic}`);
    this.name = 'PodStartError';
  }
}

/**
 * A running step pod went away or broke under its process (Evicted, OOMKilled, deleted, node lost): the step
 * ends errored, never succeeded, with the diagnostic block in the message.
 */
export class PodFailedError extends RuntimeError {
  readonly httpStatus = 500;

  constructor(
    readonly podName: string,
    readonly reason: string,
    readonly diagnostic: string,
    readonly stepName?: string,
  ) {
    super(`${stepName ? `step ${stepName}: ` : ''}pod ${podName} failed: ${diagnostic}`);
    this.name = 'PodFailedError';
  }
}
