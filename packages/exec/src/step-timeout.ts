// A step's own `timeout`, else the web's default for its kind (Concourse's MaybeTimeout, atc/exec/maybe_timeout.go).
import { parseGoDuration } from '@jetbridge/plan';
import { StepError } from './step-errors.js';

/** The timeout in ms, or undefined for none; an unparsable duration is a step error. */
export function stepTimeoutMs(
  timeout: string | undefined,
  defaultMs: number | undefined,
  stepName: string,
): number | undefined {
  if (timeout === undefined || timeout === '') return defaultMs;
  try {
    return parseGoDuration(timeout);
  } catch (error) {
    throw new StepError(`parse timeout: ${(error as Error).message}`, stepName, { cause: error });
  }
}
