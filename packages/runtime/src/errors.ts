/** A runtime could not do what was asked (as opposed to a process that ran and failed). */
export class RuntimeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

/** The executable of a process does not exist in the container (fly hijack retries with `sh`). */
export class ExecutableNotFoundError extends RuntimeError {
  constructor(readonly path: string) {
    super(`executable file not found: ${path}`);
    this.name = 'ExecutableNotFoundError';
  }
}
