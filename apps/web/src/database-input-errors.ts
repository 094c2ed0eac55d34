import { HttpError } from './http-error.js';

/**
 * PostgreSQL errors that only the request's data can cause — a NUL character (which PostgreSQL text and jsonb
 * cannot hold), a value too long or too large for its column, a name too long for its index — as the 400 they
 * are, instead of a 500. Concourse, on the same PostgreSQL, answers these with a 500.
 */
const INPUT_DATA_ERRORS: Record<string, string> = {
  '22P05': 'the request contains a character the database cannot store (a NUL byte?)',
  '22021': 'the request contains a character the database cannot store',
  '22001': 'a value in the request is too long',
  '22003': 'a number in the request is out of range',
  '22008': 'a date or time in the request is out of range',
  '54000': 'a value in the request is too large to store (a very long name?)',
};

export function databaseInputError(error: unknown): HttpError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const message = INPUT_DATA_ERRORS[code];
  return message === undefined ? undefined : HttpError.badRequest(message);
}
