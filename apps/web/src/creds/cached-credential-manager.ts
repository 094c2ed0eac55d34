// Concourse's `--secret-cache-*` (atc/creds/cached_secrets.go): answers of a credential manager kept in memory,
// a found secret for `duration`, a missing one for `durationNotFound`. Failed lookups are not kept, so they
// are retried next time. Expired entries are dropped every `purgeInterval` (and whenever they are read).
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

export interface SecretCacheOptions {
  /** How long a found secret is reused (`--secret-cache-duration`, default 1m). */
  durationMs: number;
  /** How long "not found" is reused (`--secret-cache-duration-notfound`, default 10s). */
  notFoundDurationMs: number;
  /** How often expired entries are dropped (`--secret-cache-purge-interval`, default 10m). */
  purgeIntervalMs?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

interface CacheEntry {
  found: { value: unknown } | undefined;
  expiresAt: number;
}

export class CachedCredentialManager implements CredentialManager {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly now: () => number;
  private readonly purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inner: CredentialManager,
    private readonly options: SecretCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    if (options.purgeIntervalMs !== undefined && options.purgeIntervalMs > 0) {
      this.purgeTimer = setInterval(() => this.purge(), options.purgeIntervalMs);
      this.purgeTimer.unref();
    }
  }

  async lookup(context: SecretLookupContext, name: string): Promise<{ value: unknown } | undefined> {
    // The key is the whole lookup (team, pipeline, name): each manager maps it to its own secret paths.
    const key = JSON.stringify([context.teamName, context.pipelineName ?? '', name]);
    const cached = this.entries.get(key);
    if (cached !== undefined && cached.expiresAt > this.now()) return cached.found;
    const found = await this.inner.lookup(context, name);
    const ttl = found === undefined ? this.options.notFoundDurationMs : this.options.durationMs;
    if (ttl > 0) this.entries.set(key, { found, expiresAt: this.now() + ttl });
    else this.entries.delete(key);
    return found;
  }

  /** How many answers are kept (expired ones included until the next purge). */
  get size(): number {
    return this.entries.size;
  }

  purge(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  /** Stop the purge timer. */
  close(): void {
    if (this.purgeTimer !== undefined) clearInterval(this.purgeTimer);
  }
}
