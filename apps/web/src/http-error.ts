/**
 * An error with the HTTP answer it deserves. Handlers throw these; the error handler turns them into the
 * status and body Concourse would send (plain text unless `json` is given). Never a 500 for bad input.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly body: string | Record<string, unknown> = message,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  static badRequest(message = ''): HttpError {
    return new HttpError(400, message || 'bad request', message);
  }
  static unauthorized(): HttpError {
    return new HttpError(401, 'not authorized');
  }
  static forbidden(message = 'forbidden'): HttpError {
    return new HttpError(403, message);
  }
  static notFound(message = ''): HttpError {
    return new HttpError(404, message || 'not found', message);
  }
  static conflict(message = ''): HttpError {
    return new HttpError(409, message || 'conflict', message);
  }
}
