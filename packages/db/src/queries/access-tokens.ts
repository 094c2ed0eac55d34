// Opaque bearer tokens and the claims they stand for (Concourse's atc/db/access_token*.go): the token is
// only a lookup key, so revoking one is a delete.
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface AccessTokenRecord {
  token: string;
  sub: string;
  claims: Record<string, unknown>;
  expiresAt: Date;
}

export async function insertAccessToken(db: Kysely<Database>, record: AccessTokenRecord): Promise<void> {
  await db
    .insertInto('access_tokens')
    .values({
      token: record.token,
      sub: record.sub,
      claims: JSON.stringify(record.claims),
      expires_at: record.expiresAt,
    })
    .execute();
}

/** The stored token, expired or not (the caller decides what expiry means). */
export async function findAccessToken(
  db: Kysely<Database>,
  token: string,
): Promise<AccessTokenRecord | undefined> {
  const row = await db
    .selectFrom('access_tokens')
    .select(['token', 'sub', 'claims', 'expires_at'])
    .where('token', '=', token)
    .executeTakeFirst();
  if (!row) return undefined;
  return { token: row.token, sub: row.sub, claims: row.claims, expiresAt: row.expires_at };
}

export async function deleteAccessToken(db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('access_tokens').where('token', '=', token).execute();
}

/** Forget tokens that expired before `now`; returns how many were removed. */
export async function deleteExpiredAccessTokens(
  db: Kysely<Database>,
  now: Date = new Date(),
): Promise<number> {
  const result = await db.deleteFrom('access_tokens').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
