import type { StepNode } from './build-output.js';

/**
 * How a step's header names it, as Concourse's build page does (web/elm Build/StepTree viewStepHeader): the
 * plan's step kind, except that `fly execute`'s uploaded inputs and downloaded outputs read as the `get` and
 * `put` they stand for; a step no plan described (events only) as `step`.
 */
const STEP_LABELS: Readonly<Record<string, string>> = {
  artifact_input: 'get',
  artifact_output: 'put',
  unknown: 'step',
};

export function stepTitle(step: Pick<StepNode, 'type' | 'name'>): { type: string; name: string } {
  return { type: STEP_LABELS[step.type] ?? step.type, name: step.name };
}
