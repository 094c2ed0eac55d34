// Users who logged in, for `fly active-users` (Concourse's atc/db/user_factory.go). Credentials are not
// here: local users live in configuration, others at their identity provider.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface UserRecord {
  id: number;
  /** The token subject (dex's encoded user id + connector). */
  sub: string;
  /** The display user id at the last login. */
  username: string;
  connector: string;
  lastLogin: Date;
}

/** Record a login: insert the user, or refresh its name and last login (`CreateOrUpdateUser`). */
export async function recordUserLogin(
  db: Kysely<Database>,
  login: { sub: string; username: string; connector: string },
): Promise<void> {
  await db
    .insertInto('users')
    .values({
      sub: login.sub,
      username: login.username,
      connector: login.connector,
      last_login: sql<Date>`now()`,
    })
    .onConflict((oc) =>
      oc
        .column('sub')
        .doUpdateSet({ username: login.username, connector: login.connector, last_login: sql<Date>`now()` }),
    )
    .execute();
}

/** All users, or those whose last login is at or after `since` (`GetAllUsersByLoginDate`). */
export async function listUsers(db: Kysely<Database>, since?: Date): Promise<UserRecord[]> {
  let query = db
    .selectFrom('users')
    .select(['id', 'sub', 'username', 'connector', 'last_login'])
    .orderBy('id');
  if (since) query = query.where('last_login', '>=', since);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    sub: row.sub,
    username: row.username,
    connector: row.connector,
    lastLogin: row.last_login,
  }));
}
