import type { FastifyReply } from 'fastify';

/**
 * Concourse's JSON:API not-found answer (its cache-clearing routes send `jsonapi` errors, not a bare 404):
 * `{"errors":[{"title":"<Kind> Not Found Error",…}]}` as application/vnd.api+json.
 */
export function sendJsonApiNotFound(reply: FastifyReply, kind: string, name: string): FastifyReply {
  return reply
    .code(404)
    .header('content-type', 'application/vnd.api+json')
    .send(
      // A Buffer, so the media type goes out exactly as given (no charset appended).
      Buffer.from(
        JSON.stringify({
          errors: [
            {
              title: `${kind} Not Found Error`,
              detail: `${kind} with name '${name}' not found.`,
              status: '404',
            },
          ],
        }),
      ),
    );
}
