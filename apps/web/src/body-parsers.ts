import type { FastifyInstance } from 'fastify';

/**
 * Request body parsing shared by every route, within the app's body limit:
 * - JSON: an empty body is `undefined` rather than an error, because fly sends
 *   `Content-Type: application/json` on bodiless requests (e.g. `DELETE /api/v1/teams/:team`); handlers
 *   that need a body answer 400 themselves. Malformed JSON is still 400.
 * - `application/x-www-form-urlencoded` (the OAuth token endpoint, the login form): a URLSearchParams.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    defaultJson(request, text, done);
  });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8')));
    },
  );
}
