import { createHash } from 'node:crypto';
import type { TokenClaims } from './claims.js';

/** How long verified claims are served without asking the database again. */
export const TOKEN_CACHE_TTL_MS = 30_000;
/** How many tokens are kept at most; the least recently used go first. */
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;

/**
 * The key of a token in the cache and in revocation notifications: SHA-256, so neither holds the bearer
 * token itself (a notification payload is visible to anyone who can LISTEN on the database).
 */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

interface Entry {
  claims: TokenClaims;
  /** The token's own expiry (ms): never served past it, whatever the TTL. */
  expiresAt: number;
  /** When the entry must be verified against the database again (ms). */
  staleAt: number;
}

export interface TokenCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
}

/**
 * Verified access tokens' claims for a short, bounded time (Concourse's claims cacher, which is bounded by
 * size only): a revocation on this node removes the entry at once, one on another node through a
 * notification, and the TTL bounds anything else (a row deleted by hand). Only valid tokens are cached.
 */
export class TokenClaimsCache {
  /** Map order is recency order: a hit moves the entry to the end, eviction takes from the front. */
  readonly #entries = new Map<string, Entry>();
  /**
   * Bumped on every removal, so a verification that read the database before a revocation and finishes
   * after it does not put the revoked token back.
   */
  #generation = 0;
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: TokenCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? TOKEN_CACHE_TTL_MS;
    this.#maxEntries = Math.max(1, options.maxEntries ?? TOKEN_CACHE_MAX_ENTRIES);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A mark to hand back to `set`: taken before reading the database. */
  get generation(): number {
    return this.#generation;
  }

  /** The claims cached for the token, unless stale or past the token's expiry at `now` (ms). */
  get(digest: string, now: number): TokenClaims | undefined {
    const entry = this.#entries.get(digest);
    if (!entry) return undefined;
    if (now >= entry.staleAt || now >= entry.expiresAt) {
      this.#entries.delete(digest);
      return undefined;
    }
    this.#entries.delete(digest);
    this.#entries.set(digest, entry);
    return entry.claims;
  }

  /** Keep verified claims, unless something was removed since `generation` was read. */
  set(digest: string, claims: TokenClaims, expiresAt: Date, generation: number, now: number): void {
    if (generation !== this.#generation) return;
    if (expiresAt.getTime() <= now) return;
    this.#entries.delete(digest);
    this.#entries.set(digest, { claims, expiresAt: expiresAt.getTime(), staleAt: now + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(digest: string): void {
    this.#generation++;
    this.#entries.delete(digest);
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }
}
