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

/** A path asked of a volume does not exist (Concourse reports a task `file:` missing from its artifact). */
export class FileNotFoundError extends RuntimeError {
  constructor(readonly path: string) {
    super(`file not found: ${path}`);
    this.name = 'FileNotFoundError';
  }
}
