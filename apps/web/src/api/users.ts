import { listUsers } from '@jetbridge/db';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { HttpError } from '../http-error.js';

/**
 * Users (Concourse's `atc/api/usersserver`): `GET /api/v1/user` is the caller's own UserInfo with roles
 * computed now (`fly login`, `status`, `userinfo`); `GET /api/v1/users[?since=YYYY-MM-DD]` lists who
 * logged in (`fly active-users`, admins only).
 */
export async function userRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/user', { config: { access: { kind: 'authenticated' } } }, async (request) =>
    request.accessor.userInfo(),
  );

  app.get('/api/v1/users', { config: { access: { kind: 'admin' } } }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const sinceText = typeof query.since === 'string' ? query.since : '';
    let since: Date | undefined;
    if (sinceText !== '') {
      since = parseDate(sinceText);
      if (!since) throw new HttpError(400, 'wrong date format', { error: 'wrong date format (yyyy-mm-dd)' });
    }
    const users = await listUsers(ctx.db, since);
    return users.map((user) => ({
      id: user.id,
      username: user.username,
      connector: user.connector,
      last_login: Math.floor(user.lastLogin.getTime() / 1000),
      sub: user.sub,
    }));
  });
}

/** Go's `time.Parse("2006-01-02", …)`: exactly YYYY-MM-DD, a real calendar date, midnight UTC. */
function parseDate(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  return date;
}
