// Stream mode collects every step output into the web's own data directory: without a limit one step writing
// 50 GB fills the web's disk. The limit counts the uncompressed tar the helper streams out (headers included),
// as --max-artifact-upload-size counts a `fly execute -i` upload; extractTar stops as soon as it is crossed.
import { ArtifactTooLargeError, formatBytes, type ExtractOptions } from '@jetbridge/artifact-store';
import { RuntimeError } from '@jetbridge/runtime';

/** An output was bigger than `--kubernetes-stream-max-output-size`: its step errors, nothing of it is kept. */
export class OutputTooLargeError extends RuntimeError {
  readonly httpStatus = 500;

  constructor(
    /** The output as the step sees it (its path in the container). */
    readonly output: string,
    readonly limitBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      `output ${output} is too large to collect: it is larger than ${formatBytes(limitBytes)} uncompressed, ` +
        'the limit of --kubernetes-stream-max-output-size',
      options,
    );
    this.name = 'OutputTooLargeError';
  }
}

/** extractTar's options to collect one output under `maxOutputBytes` (0: no limit). */
export function outputExtractOptions(maxOutputBytes: number): ExtractOptions {
  return maxOutputBytes > 0 ? { maxBytes: maxOutputBytes } : {};
}

/** What a failed collection of `output` tells the step: the output and the limit when it was too large. */
export function outputCollectionError(output: string, error: unknown): unknown {
  return error instanceof ArtifactTooLargeError
    ? new OutputTooLargeError(output, error.limitBytes, { cause: error })
    : error;
}
