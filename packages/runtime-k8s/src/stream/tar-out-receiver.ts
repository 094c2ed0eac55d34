import { PassThrough } from 'node:stream';
import { threadId } from 'node:worker_threads';
import { extractTar, type ExtractResult } from '@jetbridge/artifact-store';
import { execInPod, type ExecKubeConfig, type ExecResult } from '../exec/index.js';
import { outputExtractOptions } from '../output-size-limit.js';
import { TextTail } from '../text-tail.js';

/**
 * One output's tar-out, as plain data: it crosses to the collector thread (collector-thread.ts) as it is.
 * The command is the helper's `tar-out … --report`; the archive is extracted into `staging`.
 */
export interface TarOutRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  /** An existing, empty directory (the artifact's staging directory). */
  staging: string;
  /** Uncompressed tar bytes at most (0: no limit); past it, extraction fails with ArtifactTooLargeError. */
  maxBytes: number;
}

/**
 * What happened, uninterpreted: the exec's result or failure, the extraction's result or failure, and the
 * helper's stderr (its byte-count report or an error message). The caller decides what it means.
 */
export interface TarOutOutcome {
  result?: ExecResult;
  execError?: unknown;
  extracted?: ExtractResult;
  extractError?: unknown;
  stderr: string;
  seconds: number;
  /** The thread that received it (0: the main thread). */
  threadId: number;
}

/**
 * Runs the helper's tar-out in the pod and extracts what it writes into `request.staging`, with the store's
 * extraction rules (traversal-safe). Never rejects: both sides always settle before it returns.
 */
export async function receiveTarOut(
  request: TarOutRequest,
  kubeConfig: ExecKubeConfig,
  signal?: AbortSignal,
): Promise<TarOutOutcome> {
  const began = Date.now();
  // 1 MiB: the exec's socket is paused whenever this reports full; at the 16 KiB default that is every frame.
  const tar = new PassThrough({ highWaterMark: 1 << 20 });
  // Failures surface through extractTar and execInPod; a destroyed intake must not throw on its own.
  tar.on('error', () => undefined);
  const stderr = new TextTail(8192);
  const stop = new AbortController();
  const execSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const outcome: Omit<TarOutOutcome, 'stderr' | 'seconds' | 'threadId'> = {};
  const extracting = extractTar(request.staging, '.', tar, outputExtractOptions(request.maxBytes)).then(
    (extracted) => {
      outcome.extracted = extracted;
    },
    (error: unknown) => {
      outcome.extractError = error;
      stop.abort(error); // nothing reads the exec's output any more
    },
  );
  try {
    outcome.result = await execInPod({
      kubeConfig,
      namespace: request.namespace,
      pod: request.pod,
      container: request.container,
      command: request.command,
      stdout: tar,
      stderr,
      signal: execSignal,
      killOnAbort: false,
      pingIntervalMs: 15_000,
    });
  } catch (error) {
    outcome.execError = error;
    tar.destroy(error instanceof Error ? error : new Error(String(error)));
  }
  await extracting;
  return { ...outcome, stderr: stderr.value(), seconds: (Date.now() - began) / 1000, threadId };
}
