import type { TeamRecord } from '@jetbridge/db';

/** How long a loaded team list is served at most, even without a change notification (Concourse: 1 min). */
export const TEAMS_CACHE_TTL_MS = 60_000;

export interface TeamsCacheOptions {
  /** Reads every team with its auth (`listTeams`). */
  load(): Promise<TeamRecord[]>;
  /** Whether cached lists may be served now (the change listener is listening); otherwise always load. */
  isTrusted(): boolean;
  ttlMs?: number;
  now?: () => number;
}

/**
 * The team list every authenticated request computes roles against (Concourse's teams cacher), kept in
 * memory until a change on any node invalidates it or it is older than the TTL. A load that was under way
 * when an invalidation came is used by its request but never kept, so a change is never hidden by a read
 * that raced it.
 */
export class TeamsCache {
  #teams: readonly TeamRecord[] | undefined;
  #loadedAt = 0;
  #generation = 0;
  /** A load of the current generation, shared by concurrent requests. */
  #loading: Promise<readonly TeamRecord[]> | undefined;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(private readonly options: TeamsCacheOptions) {
    this.#ttlMs = options.ttlMs ?? TEAMS_CACHE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  async get(): Promise<readonly TeamRecord[]> {
    if (!this.options.isTrusted()) return this.options.load();
    if (this.#teams !== undefined && this.#now() - this.#loadedAt < this.#ttlMs) return this.#teams;
    this.#loading ??= this.#load();
    return this.#loading;
  }

  /** Forget the list (a team changed here or elsewhere); the next request reloads it. */
  invalidate(): void {
    this.#generation++;
    this.#teams = undefined;
    this.#loading = undefined;
  }

  async #load(): Promise<readonly TeamRecord[]> {
    const generation = this.#generation;
    const startedAt = this.#now();
    try {
      const teams = await this.options.load();
      if (generation === this.#generation && this.options.isTrusted()) {
        this.#teams = teams;
        this.#loadedAt = startedAt;
      }
      return teams;
    } finally {
      if (generation === this.#generation) this.#loading = undefined;
    }
  }
}
