// Errors across the collector thread's boundary. postMessage's structured clone keeps only an Error's name,
// message and stack (a subclass arrives as a plain Error, its fields lost), but callers branch on the classes
// (`instanceof ExecConnectionLostError` retries a transfer, ArtifactTooLargeError names the output's limit)
// and read their fields (httpStatus, bytes, limitBytes).
import { ArtifactTooLargeError } from '@jetbridge/artifact-store';
import {
  ExecAbortedError,
  ExecConnectionLostError,
  ExecFailedError,
  ExecProtocolError,
  ExecStreamError,
  ExecUpgradeError,
  ExecVerificationError,
} from '../exec/errors.js';

/** An error as plain data: its class name, message, stack and own data fields (not its cause). */
export interface TransferredError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

/** The classes a collection's errors are told apart by; others come back as Errors of the same name. */
const KNOWN_CLASSES: Record<string, { prototype: Error }> = {
  ArtifactTooLargeError,
  ExecAbortedError,
  ExecConnectionLostError,
  ExecFailedError,
  ExecProtocolError,
  ExecStreamError,
  ExecUpgradeError,
  ExecVerificationError,
};

/** Keeps the fields that survive structured cloning (plain data), drops the rest (functions, causes…). */
function plainFields(error: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'cause' || key === 'message' || key === 'stack' || key === 'name') continue;
    try {
      fields[key] = structuredClone(value);
    } catch {
      // not plain data: left behind
    }
  }
  return fields;
}

export function transferableError(error: unknown): TransferredError {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      fields: plainFields(error),
    };
  }
  return { name: 'Error', message: String(error), fields: {} };
}

/**
 * The error again, on this side: one of the known classes is an instance of its own class again (made without
 * running its constructor, which would rebuild the message from arguments no longer at hand); any other
 * error is an Error with the same name and message.
 */
export function revivedError(transferred: TransferredError): Error {
  const known = KNOWN_CLASSES[transferred.name];
  const error: Error = known ? (Object.create(known.prototype) as Error) : new Error();
  Object.assign(error, transferred.fields);
  Object.defineProperties(error, {
    name: { value: transferred.name, writable: true, configurable: true },
    message: { value: transferred.message, writable: true, configurable: true },
    stack: {
      value: transferred.stack ?? `${transferred.name}: ${transferred.message}`,
      writable: true,
      configurable: true,
    },
  });
  return error;
}
