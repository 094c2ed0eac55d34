// The web node's ArtifactRegistry: what garbage collection may delete, decided from PostgreSQL (builds and
// their `artifacts` rows) and from the containers the worker still holds. Mirrors Concourse's volume and
// artifact collectors (atc/gc/volume_collector.go, artifact_collector.go), with these rules per volume:
//
// - A volume registered as a build's output (`artifact_output`, an `artifacts` row with a build): kept while
//   the build runs, while any of its containers stays, and for the retention period after the build ended,
//   so that `fly execute -o` can download it. (Concourse expires these rows 12h after they are made.)
// - An upload (`fly execute -i`, no build on its row): kept for the retention period after it was made, and
//   beyond it while a build that is not finished reads it through `artifact_input`. An upload without a row
//   is still streaming in (the row comes last), or was refused; the same period covers both.
// - Any other volume of a build (task outputs nobody registered, get results): kept while the build runs and
//   while any of its containers stays (`--gc-one-off-grace-period` after the step ended, longer if
//   intercepted), because those containers mount it. Concourse's volumes die with their containers too.
// - A volume whose build no longer exists (deleted with its pipeline or team) is garbage right away.
import type { Artifact, ArtifactOwner, ArtifactRegistry } from '@jetbridge/artifact-store';
import {
  deleteArtifactOfVolume,
  findArtifactsByVolumeHandles,
  findTeamByName,
  isFinishedStatus,
  listArtifactIdsReadByUnfinishedBuilds,
  listBuildLifetimes,
  type ArtifactRecord,
  type BuildStatus,
  type Database,
  type Kysely,
} from '@jetbridge/db';

export interface DatabaseArtifactRegistryOptions {
  db: Kysely<Database>;
  /** How long uploads, and the registered outputs of a finished build, are kept (`--gc-artifact-retention`). */
  retentionMs: number;
  /** Ids of the builds that still have containers on the worker (kept for `fly intercept`). */
  buildsWithContainers: () => Promise<ReadonlySet<number>>;
  /** The clock, in ms since the epoch. */
  now?: () => number;
}

interface BuildLifetime {
  status: BuildStatus;
  endTime: Date | null;
}

/**
 * An {@link ArtifactRegistry} on PostgreSQL. Registering is free: volumes are recorded by the artifact store's
 * own metadata, and only uploads and registered outputs have `artifacts` rows (made by the artifacts API and
 * the engine, which need their ids). Unregistering deletes the volume's row, so a reaped artifact disappears
 * from `fly execute -o` too.
 */
export class DatabaseArtifactRegistry implements ArtifactRegistry {
  readonly #db: Kysely<Database>;
  readonly #retentionMs: number;
  readonly #buildsWithContainers: () => Promise<ReadonlySet<number>>;
  readonly #now: () => number;

  constructor(options: DatabaseArtifactRegistryOptions) {
    this.#db = options.db;
    this.#retentionMs = options.retentionMs;
    this.#buildsWithContainers = options.buildsWithContainers;
    this.#now = options.now ?? Date.now;
  }

  async register(): Promise<void> {}

  async unregister(handle: string): Promise<void> {
    await deleteArtifactOfVolume(this.#db, handle);
  }

  /**
   * The owner-level answer, for callers that cannot ask per artifact: an upload's team exists; a build
   * exists and runs, holds containers, or ended less than the retention period ago (the longest any of its
   * volumes may stay). The reaper uses {@link liveHandles} instead.
   */
  async isOwnerAlive(owner: ArtifactOwner): Promise<boolean> {
    if (owner.kind === 'upload') return (await findTeamByName(this.#db, owner.teamName)) !== undefined;
    const [build] = await listBuildLifetimes(this.#db, [owner.buildId]);
    if (build === undefined) return false;
    const withContainers = await this.#buildsWithContainers();
    return this.#isBuildInUse(owner.buildId, build, withContainers) || this.#endedWithinRetention(build);
  }

  /** Decides each artifact by the rules above, in three queries and one container listing, whatever the number of artifacts. */
  async liveHandles(artifacts: readonly Artifact[]): Promise<ReadonlySet<string>> {
    const rows = new Map<string, ArtifactRecord>();
    for (const row of await findArtifactsByVolumeHandles(
      this.#db,
      artifacts.map((artifact) => artifact.handle),
    )) {
      rows.set(row.volumeHandle, row);
    }

    const buildIds = new Set<number>();
    for (const artifact of artifacts) {
      const buildId = rows.get(artifact.handle)?.buildId ?? ownerBuildId(artifact.owner);
      if (buildId !== undefined && buildId !== null) buildIds.add(buildId);
    }
    const builds = new Map<number, BuildLifetime>();
    for (const build of await listBuildLifetimes(this.#db, [...buildIds])) builds.set(build.id, build);
    const withContainers = buildIds.size > 0 ? await this.#buildsWithContainers() : new Set<number>();
    const hasUploadRows = artifacts.some((artifact) => {
      const row = rows.get(artifact.handle);
      return row !== undefined && row.buildId === null;
    });
    const readByUnfinishedBuilds = hasUploadRows
      ? await listArtifactIdsReadByUnfinishedBuilds(this.#db)
      : new Set<number>();

    const live = new Set<string>();
    const now = this.#now();
    for (const artifact of artifacts) {
      const row = rows.get(artifact.handle);
      let keep: boolean;
      if (row !== undefined && row.buildId !== null) {
        const build = builds.get(row.buildId);
        keep =
          build !== undefined &&
          (this.#isBuildInUse(row.buildId, build, withContainers) || this.#endedWithinRetention(build));
      } else if (artifact.owner.kind === 'upload') {
        keep =
          now - artifact.createdAt.getTime() < this.#retentionMs ||
          (row !== undefined && readByUnfinishedBuilds.has(row.id));
      } else {
        const build = builds.get(artifact.owner.buildId);
        keep = build !== undefined && this.#isBuildInUse(artifact.owner.buildId, build, withContainers);
      }
      if (keep) live.add(artifact.handle);
    }
    return live;
  }

  /** Running (or not started yet), or some of its containers are still kept. */
  #isBuildInUse(buildId: number, build: BuildLifetime, withContainers: ReadonlySet<number>): boolean {
    return !isFinishedStatus(build.status) || withContainers.has(buildId);
  }

  #endedWithinRetention(build: BuildLifetime): boolean {
    // A finished build always has an end time; without one, count it as just ended rather than lose outputs.
    const endedAt = build.endTime?.getTime() ?? this.#now();
    return this.#now() - endedAt < this.#retentionMs;
  }
}

function ownerBuildId(owner: ArtifactOwner): number | undefined {
  return owner.kind === 'upload' ? undefined : owner.buildId;
}
