// Why a job's plan could not be made (atc/builds/errors.go). The build is then finished errored before it
// starts, with the message as its error event.

/** A get or put step names a resource the pipeline does not have. */
export class UnknownResourceError extends Error {
  constructor(readonly resource: string) {
    super(`unknown resource: ${resource}`);
    this.name = 'UnknownResourceError';
  }
}

/** A `run` step names a prototype the pipeline does not have. */
export class UnknownPrototypeError extends Error {
  constructor(readonly prototype: string) {
    super(`unknown prototype: ${prototype}`);
    this.name = 'UnknownPrototypeError';
  }
}

/** A get step has no version among the build's inputs (the scheduler resolved none for it). */
export class VersionNotProvidedError extends Error {
  constructor(readonly input: string) {
    super(`version for input ${input} not provided`);
    this.name = 'VersionNotProvidedError';
  }
}
