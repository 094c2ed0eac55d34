// The messages between the web's thread and the output collector thread (collector-thread.ts and
// collector-thread-entry.ts): plain data only, as postMessage copies it.
import type { ExtractResult } from '@jetbridge/artifact-store';
import type { TransferredError } from './thread-errors.js';
import type { ExecResult } from '../exec/index.js';
import type { ConnectionSnapshot } from './connection-snapshot.js';
import type { TarOutRequest } from './tar-out-receiver.js';

export type ToCollector =
  | { type: 'receive'; id: number; request: TarOutRequest; connection: ConnectionSnapshot }
  | { type: 'abort'; id: number };

/** A TarOutOutcome with its errors as plain data. */
export interface TransferredOutcome {
  result?: ExecResult;
  execError?: TransferredError;
  extracted?: ExtractResult;
  extractError?: TransferredError;
  stderr: string;
  seconds: number;
  threadId: number;
}

export interface FromCollector {
  type: 'done';
  id: number;
  outcome: TransferredOutcome;
}
