// Errors across a worker thread boundary. postMessage's structured clone keeps only an Error's name, message
// and stack (a subclass arrives as a plain Error, its fields lost), but callers branch on the exec errors'
// classes (`instanceof ExecConnectionLostError` retries a transfer) and read their fields (httpStatus, bytes).
import {
  ExecAbortedError,
  ExecConnectionLostError,
  ExecError,
  ExecFailedError,
  ExecProtocolError,
  ExecStreamError,
  ExecUpgradeError,
  ExecVerificationError,
} from './errors.js';

/** An error as plain data: its class name, message, stack and own data fields (not its cause). */
export interface TransferredError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

const EXEC_ERROR_CLASSES: Record<string, { prototype: ExecError }> = {
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
 * The error again, on this side: an exec error is an instance of its own class again (made without running
 * its constructor, which would rebuild the message from arguments no longer at hand); any other error is an
 * Error with the same name and message.
 */
export function revivedError(transferred: TransferredError): Error {
  const execClass = EXEC_ERROR_CLASSES[transferred.name];
  const error: Error = execClass ? (Object.create(execClass.prototype) as Error) : new Error();
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
