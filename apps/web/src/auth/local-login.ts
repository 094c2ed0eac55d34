import { recordUserLogin, type Database, type Kysely } from '@jetbridge/db';
import { displayUserIdOf } from './accessor.js';
import { localUserClaims } from './claims.js';
import type { LocalUserDirectory } from './local-users.js';
import type { AccessTokenStore, IssuedToken } from './token-store.js';

export interface LocalLoginServices {
  tokens: AccessTokenStore;
  localUsers: LocalUserDirectory;
  /** `<external url>/sky/issuer`, the `iss` of every token. */
  issuer: string;
  tokenLifetimeMs: number;
}

/**
 * Log a local user in: check the password, store a new token with the claims dex would have issued, and
 * record the login for `fly active-users` (what skymarshal's token wrapper does after dex answers).
 * Undefined when the username or password is wrong.
 */
export async function loginLocalUser(
  services: LocalLoginServices,
  db: Kysely<Database>,
  login: { username: string; password: string; clientId: string; scopes: readonly string[] },
): Promise<IssuedToken | undefined> {
  const user = await services.localUsers.verify(login.username, login.password);
  if (!user) return undefined;
  const issuedAt = new Date();
  const claims = localUserClaims({
    username: user.username,
    issuer: services.issuer,
    clientId: login.clientId,
    scopes: login.scopes,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + services.tokenLifetimeMs),
  });
  const issued = await services.tokens.issue(claims);
  await recordUserLogin(db, {
    sub: claims.sub,
    username: displayUserIdOf(claims) || user.username,
    connector: claims.federated_claims?.connector_id ?? 'local',
  });
  return issued;
}
