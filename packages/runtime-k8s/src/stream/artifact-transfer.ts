import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import {
  ArtifactTooLargeError,
  lendTarChunks,
  type Artifact,
  type ArtifactStore,
} from '@jetbridge/artifact-store';
import { RuntimeError } from '@jetbridge/runtime';
import { ExecConnectionLostError, execInPod, type ExecInPodOptions, type ExecResult } from '../exec/index.js';
import type { HelperTarget } from '../helper/helper-exec.js';
import type { Logger } from '../logger.js';
import type { K8sRuntimeMetrics } from '../metrics.js';
import { outputCollectionError } from '../output-size-limit.js';
import type { StreamLocation } from '../pods/stream-layout.js';
import { TextTail } from '../text-tail.js';
import { receiveOnThisThread, type TarOutReceiver } from './collector-thread.js';

/** A volume of a stream-mode step: the artifact, and where it lives in the pod. */
export interface StreamedVolume {
  handle: string;
  /** The path the step sees (for messages). */
  containerPath: string;
  readOnly: boolean;
  location: StreamLocation;
}

export interface TransferOptions {
  store: ArtifactStore;
  target: HelperTarget;
  /** Transfers at the same time (inputs of one pod). */
  parallel: number;
  /** Attempts of a transfer whose exec connection dropped; it starts over each time. */
  attempts: number;
  metrics: K8sRuntimeMetrics;
  logger: Logger;
  signal?: AbortSignal;
  /** Where outputs are received (the worker's collector thread); default this thread. */
  receiver?: TarOutReceiver;
  /** An output's uncompressed tar bytes at most (0 or absent: no limit; --kubernetes-stream-max-output-size). */
  maxOutputBytes?: number;
}

export interface TransferReport {
  bytes: number;
  seconds: number;
}

// helper/tar.go: tar-out's "path not found", tar-in's "unsafe or corrupt archive".
const EXIT_NOT_FOUND = 3;
const EXIT_UNSAFE_ARCHIVE = 4;

/** The `{"jetbridgeTar":{"bytes":N}}` line the helper prints with --report, or undefined. */
function reportedBytes(text: string): number | undefined {
  for (const line of text.split('\n').reverse()) {
    if (!line.includes('"jetbridgeTar"')) continue;
    try {
      const bytes = (JSON.parse(line) as { jetbridgeTar?: { bytes?: unknown } }).jetbridgeTar?.bytes;
      if (typeof bytes === 'number') return bytes;
    } catch {
      // not the report
    }
  }
  return undefined;
}

/** Other lines of the helper's output than its report: what to show in an error. */
function helperMessage(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.includes('"jetbridgeTar"'))
    .join('\n')
    .trim();
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `work` over `items`, at most `parallel` at a time; the first failure rejects (the rest still settle). */
async function inParallel<T, R>(items: T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}

/** Retries `attempt` while its exec connection drops (the transfer is redone from the start). */
async function withRetries<R>(
  options: TransferOptions,
  what: string,
  attempt: (attemptNumber: number) => Promise<R>,
): Promise<R> {
  for (let number = 1; ; number++) {
    try {
      return await attempt(number);
    } catch (error) {
      if (
        !(error instanceof ExecConnectionLostError) ||
        number >= options.attempts ||
        options.signal?.aborted
      ) {
        throw error;
      }
      options.logger.info(
        { pod: options.target.pod, err: error.message, attempt: number },
        `${what}: connection lost, starting over`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100 * number));
    }
  }
}

/**
 * The inputs of a stream-mode pod, in waves by depth (a volume mounted inside another lands after it; inputs
 * before outputs at the same path), each wave in parallel. Every transfer is verified: the helper reports how
 * many tar bytes it read up to the end-of-archive marker, which must be exactly what the transport sent.
 */
export async function streamVolumesIn(
  volumes: StreamedVolume[],
  options: TransferOptions,
): Promise<TransferReport> {
  const began = Date.now();
  const depth = (volume: StreamedVolume) => volume.containerPath.split('/').filter(Boolean).length;
  const waves = new Map<string, StreamedVolume[]>();
  for (const volume of volumes) {
    const key = `${String(depth(volume)).padStart(4, '0')}-${volume.readOnly ? 0 : 1}`;
    waves.set(key, [...(waves.get(key) ?? []), volume]);
  }
  let bytes = 0;
  for (const key of [...waves.keys()].sort()) {
    const sent = await inParallel(waves.get(key) ?? [], options.parallel, (volume) =>
      withRetries(options, `streaming volume ${volume.handle} in`, () => streamOneIn(volume, options)),
    );
    bytes += sent.reduce((sum, each) => sum + each, 0);
  }
  return { bytes, seconds: (Date.now() - began) / 1000 };
}

async function lookupArtifact(store: ArtifactStore, volume: StreamedVolume): Promise<Artifact> {
  const artifact = await store.lookup(volume.handle);
  if (!artifact) throw new RuntimeError(`volume ${volume.handle} (${volume.containerPath}) does not exist`);
  return artifact;
}

/** The helper's `tar-in`/`tar-out` of one volume, with --report (it prints the byte count it read/wrote). */
function helperTarCommand(
  verb: 'tar-in' | 'tar-out',
  volume: StreamedVolume,
  options: TransferOptions,
): string[] {
  const { location } = volume;
  return [
    options.target.helperPath,
    verb,
    `--dir=${location.dir}`,
    `--path=${location.relative}`,
    '--report',
  ];
}

/**
 * Runs the helper's `tar-in` for one volume in the pod (with --report, so it prints its byte count) and counts
 * the exec in the metrics. The caller brings the tar to send.
 */
async function execHelperTarIn(
  volume: StreamedVolume,
  options: TransferOptions,
  io: Pick<ExecInPodOptions, 'stdin' | 'stdinIsSelfDelimiting' | 'stdout' | 'stderr' | 'signal'>,
): Promise<ExecResult> {
  const began = Date.now();
  const result = await execInPod({
    kubeConfig: options.target.kubeConfig,
    namespace: options.target.namespace,
    pod: options.target.pod,
    container: options.target.container,
    command: helperTarCommand('tar-in', volume, options),
    ...io,
    killOnAbort: false,
    pingIntervalMs: 15_000,
  });
  options.metrics.exec('tar-in', {
    sent: result.stdinBytes,
    received: result.stdoutBytes + result.stderrBytes,
    seconds: (Date.now() - began) / 1000,
  });
  return result;
}

async function streamOneIn(volume: StreamedVolume, options: TransferOptions): Promise<number> {
  const artifact = await lookupArtifact(options.store, volume);
  // Lent chunks: the transport copies each into a frame before reading on.
  const tar = await lendTarChunks(artifact, '.');
  const stdout = new TextTail(8192);
  const stderr = new TextTail(8192);
  let result: ExecResult;
  try {
    result = await execHelperTarIn(volume, options, {
      stdin: tar,
      // A tar ends itself (its end-of-archive marker), so v4 servers work too.
      stdinIsSelfDelimiting: true,
      stdout,
      stderr,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    tar.close();
  }
  const where = `${volume.containerPath} (volume ${volume.handle}) in pod ${options.target.pod}`;
  if (result.exitCode !== 0) {
    const why = helperMessage(stderr.value()) || `exit ${result.exitCode}`;
    throw new RuntimeError(
      result.exitCode === EXIT_UNSAFE_ARCHIVE
        ? `the helper refused to extract ${where}: ${why}`
        : `cannot stream ${where}: ${why}`,
    );
  }
  // The transport counts every stdin byte it sent (a tar stream that failed fails the exec instead); the
  // helper counts what its tar reader consumed up to the end-of-archive marker. Equal: nothing lost, nothing
  // left over.
  const received = reportedBytes(stdout.value());
  if (received !== result.stdinBytes) {
    throw new RuntimeError(
      `streaming ${where} was incomplete: the web sent ${result.stdinBytes} bytes, the helper read ${received ?? 'an unknown number of'} bytes`,
    );
  }
  return result.stdinBytes;
}

/**
 * Streams each output out of the pod into its artifact (helper tar-out → the store's extraction rules). Each
 * lands in a staging directory next to the artifact first and replaces its contents only once complete and
 * verified (the helper's byte count = the bytes received = the bytes extracted), so a failed collection
 * leaves the artifact as it was. An output directory the step removed becomes an empty artifact.
 */
export async function collectOutputs(
  outputs: StreamedVolume[],
  options: TransferOptions,
): Promise<TransferReport> {
  const began = Date.now();
  const received = await inParallel(outputs, options.parallel, (output) =>
    withRetries(options, `collecting output ${output.handle}`, () => collectOne(output, options)),
  );
  return { bytes: received.reduce((sum, each) => sum + each, 0), seconds: (Date.now() - began) / 1000 };
}

async function collectOne(output: StreamedVolume, options: TransferOptions): Promise<number> {
  const artifact = await lookupArtifact(options.store, output);
  const staging = `${artifact.path}.collecting-${randomUUID().slice(0, 8)}`;
  await mkdir(staging, { mode: 0o755 });
  try {
    const bytes = await receiveInto(staging, output, options);
    const previous = `${artifact.path}.replaced-${randomUUID().slice(0, 8)}`;
    await rename(artifact.path, previous);
    await rename(staging, artifact.path);
    await rm(previous, { recursive: true, force: true });
    return bytes;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function receiveInto(
  staging: string,
  output: StreamedVolume,
  options: TransferOptions,
): Promise<number> {
  const receiver = options.receiver ?? receiveOnThisThread;
  const { target } = options;
  const outcome = await receiver.receive(
    {
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      command: helperTarCommand('tar-out', output, options),
      staging,
      maxBytes: options.maxOutputBytes ?? 0,
    },
    target.kubeConfig,
    options.signal,
  );
  const where = `output ${output.containerPath} (volume ${output.handle}) of pod ${target.pod}`;
  const { result, execError, extractError } = outcome;
  // Too large is the answer whatever the exec did after (it was cut off): not retried, nothing kept.
  if (extractError instanceof ArtifactTooLargeError)
    throw outputCollectionError(output.containerPath, extractError);
  if (!result) {
    if (extractError !== undefined && !(execError instanceof ExecConnectionLostError)) {
      // The web refused what arrived (an unsafe archive): that is the reason, not the aborted exec.
      throw new RuntimeError(`cannot collect ${where}: ${describeError(extractError)}`, {
        cause: extractError,
      });
    }
    throw execError;
  }
  options.metrics.exec('tar-out', {
    sent: result.stdinBytes,
    received: result.stdoutBytes + result.stderrBytes,
    seconds: outcome.seconds,
  });
  if (result.exitCode === EXIT_NOT_FOUND) {
    options.logger.warn(
      { pod: target.pod, output: output.containerPath },
      'the step removed its output directory: collected as empty',
    );
    return 0;
  }
  if (result.exitCode !== 0) {
    throw new RuntimeError(
      `cannot collect ${where}: ${helperMessage(outcome.stderr) || `exit ${result.exitCode}`}`,
    );
  }
  if (extractError !== undefined || !outcome.extracted) {
    throw new RuntimeError(`cannot collect ${where}: ${describeError(extractError)}`, {
      cause: extractError,
    });
  }
  const extracted = outcome.extracted;
  const written = reportedBytes(outcome.stderr);
  if (written !== result.stdoutBytes || extracted.bytes !== result.stdoutBytes) {
    throw new RuntimeError(
      `collecting ${where} was incomplete: the helper wrote ${written ?? 'an unknown number of'} bytes, the web received ${result.stdoutBytes} and extracted ${extracted.bytes}`,
    );
  }
  return extracted.bytes;
}
