// Steps this engine cannot run (the experimental `run` prototype step, and `dependent_get` of old builds):
// the build errors with a clear message instead of doing something half right.
import type { StepKind } from '@jetbridge/plan';
import type { Step } from '../step.js';
import { StepError } from '../step-errors.js';

export class UnsupportedStepError extends StepError {
  constructor(
    readonly kind: StepKind,
    stepName: string,
  ) {
    super(`step type ${kind} is not supported yet`, stepName);
    this.name = 'UnsupportedStepError';
  }
}

export function unsupportedStep(kind: StepKind, plan: object): Step {
  const body = (plan as unknown as Record<string, { name?: unknown } | undefined>)[kind];
  const stepName = typeof body?.name === 'string' ? body.name : kind;
  return {
    run: () => Promise.reject(new UnsupportedStepError(kind, stepName)),
  };
}
