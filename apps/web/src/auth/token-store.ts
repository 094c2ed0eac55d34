import {
  deleteAccessToken,
  deleteExpiredAccessTokens,
  findAccessToken,
  insertAccessToken,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import { notifyTokenRevoked } from './auth-change-listener.js';
import { readStoredClaims, type TokenClaims } from './claims.js';
import { tokenDigest, type TokenClaimsCache } from './token-cache.js';
import { generateAccessToken } from './tokens.js';

/** OAuth clients whose tokens the API accepts (Concourse checks `aud` against its configured clients). */
export const FLY_CLIENT = { id: 'fly', secret: 'Zmx5' } as const;
export const WEB_CLIENT_ID = 'concourse-web';
const ACCEPTED_AUDIENCES: readonly string[] = [FLY_CLIENT.id, WEB_CLIENT_ID];

/** Anything not shaped like one of our tokens is refused without asking the database. */
const TOKEN_SHAPE = /^[A-Za-z0-9+/]{38}$/;

export interface IssuedToken {
  token: string;
  expiresAt: Date;
  claims: TokenClaims;
}

export interface TokenCaching {
  cache: TokenClaimsCache;
  /** Whether cached claims may be served now (revocations elsewhere are being heard). */
  isTrusted(): boolean;
}

/**
 * Issues, verifies and revokes opaque access tokens kept in `access_tokens` (skymarshal's model: verifying
 * is a lookup plus an expiry check, so a restart keeps tokens valid and logout really revokes), with verified
 * claims cached for a short time (token-cache.ts).
 */
export class AccessTokenStore {
  /** Without `caching`, every verification reads the database. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly caching?: TokenCaching,
  ) {}

  async issue(claims: TokenClaims): Promise<IssuedToken> {
    const expiresAt = new Date(claims.exp * 1000);
    const token = generateAccessToken(expiresAt);
    await insertAccessToken(this.db, { token, sub: claims.sub, claims: { ...claims }, expiresAt });
    return { token, expiresAt, claims };
  }

  /** The claims of a live token; undefined when unknown, expired, or issued to a client we do not serve. */
  async verify(token: string, now: Date = new Date()): Promise<TokenClaims | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const caching = this.caching?.isTrusted() ? this.caching : undefined;
    const digest = caching ? tokenDigest(token) : '';
    const cached = caching?.cache.get(digest, now.getTime());
    if (cached) return cached;
    const generation = caching?.cache.generation ?? 0;
    const record = await findAccessToken(this.db, token);
    if (!record || record.expiresAt.getTime() <= now.getTime()) return undefined;
    const claims = readStoredClaims(record.claims);
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.some((aud) => ACCEPTED_AUDIENCES.includes(aud))) return undefined;
    caching?.cache.set(digest, claims, record.expiresAt, generation, now.getTime());
    return claims;
  }

  /**
   * Revoke a token (logout): gone from the database, from this node's cache at once, and from the other
   * nodes' caches when they hear the notification.
   */
  async revoke(token: string): Promise<void> {
    if (!TOKEN_SHAPE.test(token)) return;
    const digest = tokenDigest(token);
    this.caching?.cache.delete(digest);
    await deleteAccessToken(this.db, token);
    // Again after the delete: a verification that read the row meanwhile must not have re-cached it.
    this.caching?.cache.delete(digest);
    await notifyTokenRevoked(this.db, digest);
  }

  /** Forget expired tokens (Concourse's access token collector). */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    return deleteExpiredAccessTokens(this.db, now);
  }
}
