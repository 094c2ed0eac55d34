import type { StatusObject } from './types.js';

/** An API failure that is answered as a v1 Status object with its HTTP code, exactly as the real API server does. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusObject['details'],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): StatusObject {
    return failureStatus(this.code, this.reason, this.message, this.details);
  }

  static notFound(kind: string, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${kind} "${name}" not found`, { name, kind });
  }

  static alreadyExists(kind: string, name: string): ApiError {
    return new ApiError(409, 'AlreadyExists', `${kind} "${name}" already exists`, { name, kind });
  }

  static invalid(kind: string, name: string, message: string): ApiError {
    return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${message}`, { name, kind });
  }

  static badRequest(message: string): ApiError {
    return new ApiError(400, 'BadRequest', message);
  }

  /** The watch cache's answer for a resourceVersion older than its retained history. */
  static expired(requested: string, oldest: string): ApiError {
    return new ApiError(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
  }
}

export function failureStatus(
  code: number,
  reason: string,
  message: string,
  details?: StatusObject['details'],
): StatusObject {
  const status: StatusObject = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
  if (details) status.details = details;
  return status;
}
