// Task config validation with Concourse's messages (`TaskConfig.Validate`, atc/task.go at v8). Concourse v8
// checks only these: `run.path` became optional in v8.0 (the image's ENTRYPOINT/CMD is used), and the
// duplicate/overlapping path checks were removed in v5 (overlapping inputs and outputs are allowed).
import type { TaskConfig } from './task-config.js';

/** The problems of a task config, one message each, worded as Concourse words them; empty when valid. */
export function validateTaskConfig(config: TaskConfig): string[] {
  const errors: string[] = [];
  if (config.platform === undefined || config.platform === '') errors.push("missing 'platform'");
  (config.inputs ?? []).forEach((input, i) => {
    if (input.name === '') errors.push(`  input in position ${i} is missing a name`);
  });
  (config.outputs ?? []).forEach((output, i) => {
    if (output.name === '') errors.push(`  output in position ${i} is missing a name`);
  });
  return errors;
}

/** An invalid task config; the message is Concourse's `invalid task configuration:\n<errors>`. */
export class TaskValidationError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid task configuration:\n${errors.join('\n')}`);
    this.name = 'TaskValidationError';
  }
}

/** @throws TaskValidationError when {@link validateTaskConfig} finds problems. */
export function assertValidTaskConfig(config: TaskConfig): void {
  const errors = validateTaskConfig(config);
  if (errors.length > 0) throw new TaskValidationError(errors);
}
