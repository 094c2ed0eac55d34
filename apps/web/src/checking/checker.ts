// The checker (Concourse's lidar: atc/lidar/scanner.go, atc/db/check_factory.go, the check step's delegate):
// finds resource versions by running check builds through the build tracker.
//
// - Periodically (every `scanIntervalMs`, and soon after a config save or unpause), the resources of
//   unpaused pipelines that need checking (see checkable-resources.ts) whose `next_check_time` has come get a
//   check build. `check_every: never` resources are skipped. A resource with a check build still unfinished
//   gets no second one, and one resource config is checked by one check at a time (a periodic check finding
//   its config busy waits for the next scan; a manual one waits its turn).
// - Each scan then starts the checks of the resource types in use that are due (`scanResourceTypes`; see
//   checkable-resource-types.ts).
// - Manual checks (`fly check-resource`, webhooks) arrive as pending check builds and run at once, from the
//   requested version if any.
// - A check starts from the pinned version (periodic checks of a pinned resource), the requested one, or
//   else the latest version of the resource's scope. What `check` prints is saved in order (SaveVersions);
//   if anything was new, the scheduler is told. The scope's last check times and `next_check_time` = end of
//   the check + interval (less a little jitter, so resources set together drift apart) are updated on
//   success and failure alike; the resource's `check_error` is cleared or set.
//
// Periodic checks are real builds named `check` here (Concourse keeps them in memory); only the latest one
// per resource is kept, older ones are collected after a minute (check-build-collector.ts).
import {
  createResourceCheckBuild,
  findResourceById,
  saveResourceVersions,
  setResourceCheckError,
  sql,
  type Database,
  type Kysely,
  type ResourceRecord,
} from '@jetbridge/db';
import type { BuildOutcome, ResourceTypeResolver } from '@jetbridge/exec';
import { parseGoDuration, type Plan, type Version } from '@jetbridge/plan';
import { checkInterval, PipelineResourceTypes, planResourceCheck, PlanIdFactory } from '@jetbridge/planner';
import type { ResourceConfig } from '@jetbridge/pipeline-config';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { BuildTracker, PipelineBuildRun } from '../builds/build-tracker.js';
import type { CredentialManager } from '../creds/index.js';
import { deleteCompletedCheckBuilds } from './check-build-collector.js';
import { listCheckableResources, type CheckableResource } from './checkable-resources.js';
import { latestVersion, pipelineCheckRun } from './pipeline-check-build.js';
import { ResourceCheckingLocks } from './resource-checking-locks.js';
import { ResourceConfigScopes, type ResourceScope } from './resource-config-scopes.js';
import { loadStoredPipeline, type StoredPipeline } from './stored-pipeline-config.js';
import { settleWithin } from './settle-within.js';

/** A requested check still pending after this long lost its request; the scanner runs it. */
const STALE_PENDING_CHECK_SECONDS = 10;

export interface CheckerOptions {
  db: Kysely<Database>;
  /** For the resource checking locks shared with the other web nodes. */
  pool: pg.Pool;
  /** The locks to use, when shared with other checkers of this node (their owner closes them). */
  locks?: ResourceCheckingLocks;
  logger: FastifyBaseLogger;
  tracker: BuildTracker;
  credentials: CredentialManager;
  resourceTypes: ResourceTypeResolver;
  /** `--enable-global-resources`: resources with the same config share one version history. */
  globalResources: boolean;
  /** `--lidar-scanner-interval`. */
  scanIntervalMs: number;
  /** `--resource-checking-interval`, a Go duration. */
  defaultCheckInterval: string;
  /** `--resource-with-webhook-checking-interval`, a Go duration (never less than the default). */
  webhookCheckInterval: string;
  /** `--global-resource-check-timeout`, in ms. */
  defaultCheckTimeoutMs: number;
  /** Called after a check saved at least one new version (the scheduler's doorbell). */
  onNewVersions(resource: { id: number; name: string; pipelineId: number }): void;
  /** A check the scheduler asked for (requestChecks) ended: the job can be scheduled again. */
  onInputChecked?(check: { resourceId: number; jobId: number }): void;
  /** How often finished check builds are collected; 30 s by default (0 = never). */
  collectIntervalMs?: number;
  /** How long a superseded finished check build is kept (`--gc-check-recycle-period`); 1 minute by default. */
  checkRecyclePeriodMs?: number;
  /** Told the duration of each scan for due resources, in seconds (the web node's metrics). */
  onScanDone?(seconds: number): void;
  /** Each scan, after the resources: start the checks of the resource types due (ResourceTypeChecker). */
  scanResourceTypes?(): Promise<void>;
}

/** A check request from the API (`POST …/check`, webhooks): its build is pending, without a plan. */
export interface RequestedCheck {
  buildId: number;
  resourceId: number;
  from: Version | null;
  shallow: boolean;
}

export class Checker {
  private readonly scopes: ResourceConfigScopes;
  private readonly configLocks: ResourceCheckingLocks;
  /** Resources with a check running here. */
  private readonly checking = new Set<number>();
  /** Pending check builds being picked up (see resumePendingChecks). */
  private readonly resuming = new Set<number>();
  /** Jobs whose pending build waits for the check of a resource running here (see requestChecks). */
  private readonly inputWaiters = new Map<number, Set<number>>();
  /** Resources with a check the scheduler asked for (see requestChecks). */
  private readonly requested = new Set<number>();
  /** Resources whose check failed before they had a scope: not retried before this time. */
  private readonly retryAfter = new Map<number, number>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly planIds = new PlanIdFactory();
  private readonly timers: NodeJS.Timeout[] = [];
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private closed = false;

  private constructor(private readonly options: CheckerOptions) {
    this.scopes = new ResourceConfigScopes(options.db, { globalResources: options.globalResources });
    this.configLocks = options.locks ?? new ResourceCheckingLocks(options.pool, options.logger);
  }

  /** Start scanning, and run the check builds left pending (e.g. requested while no node was up). */
  static start(options: CheckerOptions): Checker {
    const checker = new Checker(options);
    checker.scheduleScan(0);
    const collectMs = options.collectIntervalMs ?? 30_000;
    if (collectMs > 0) {
      const collect = setInterval(() => {
        const graceSeconds = (options.checkRecyclePeriodMs ?? 60_000) / 1000;
        deleteCompletedCheckBuilds(options.db, { graceSeconds }).catch((err: unknown) =>
          options.logger.warn({ err }, 'check build collection failed'),
        );
      }, collectMs);
      collect.unref();
      checker.timers.push(collect);
    }
    checker.track(checker.resumePendingChecks());
    return checker;
  }

  /** Scan soon (a config was saved, a pipeline unpaused) instead of at the next tick. */
  scanSoon(reason: string): void {
    this.options.logger.debug({ reason }, 'resource scan requested');
    this.scheduleScan(0);
  }

  /** Run a check build the API created (manual or webhook). Never rejects. */
  runRequestedCheck(check: RequestedCheck): Promise<BuildOutcome | undefined> {
    return this.track(
      this.manualCheck(check).catch(async (err: unknown) => {
        this.options.logger.warn({ err, buildId: check.buildId }, 'manual check failed to start');
        await this.options.tracker
          .finishPendingBuild(check.buildId, 'errored', errorText(err))
          .catch(() => undefined);
        return undefined;
      }),
    );
  }

  /**
   * Check a resource now, whatever its interval, and tell how the check ended (the build starter's checks
   * of inputs before a manually triggered build). Undefined when the resource is gone.
   */
  async checkNow(resourceId: number, from?: Version): Promise<BuildOutcome | undefined> {
    const build = await createResourceCheckBuild(this.options.db, resourceId, {
      createdBy: null,
      manuallyTriggered: true,
    });
    if (build === undefined) return undefined;
    return this.runRequestedCheck({ buildId: build.id, resourceId, from: from ?? null, shallow: true });
  }

  /**
   * The scheduler's InputChecker: check these input resources of a pending build now (a manually triggered
   * build waits for checks newer than itself). Resources already being checked here are left to that check.
   * The scheduler retries the job meanwhile and is told when each check ends.
   */
  requestChecks(build: { id: number; jobId: number }, resourceIds: readonly number[]): void {
    for (const resourceId of resourceIds) {
      if (this.checking.has(resourceId)) {
        // The check under way here counts (it ends after the build was created): told when it ends.
        const jobs = this.inputWaiters.get(resourceId) ?? new Set<number>();
        jobs.add(build.jobId);
        this.inputWaiters.set(resourceId, jobs);
        continue;
      }
      if (this.requested.has(resourceId)) continue;
      this.requested.add(resourceId);
      void this.checkNow(resourceId)
        .catch((err: unknown) =>
          this.options.logger.warn({ err, resourceId, buildId: build.id }, 'input check failed'),
        )
        .finally(() => {
          this.requested.delete(resourceId);
          this.options.onInputChecked?.({ resourceId, jobId: build.jobId });
        });
    }
  }

  /**
   * Stop scanning and wait (up to `graceMs`) for the checks running here to end: the tracker, shutting
   * down, stops their builds.
   */
  async close(graceMs = 15_000): Promise<void> {
    this.closed = true;
    if (this.scanTimer !== undefined) clearTimeout(this.scanTimer);
    for (const timer of this.timers) clearInterval(timer);
    await settleWithin(this.running, graceMs);
    if (this.options.locks === undefined) await this.configLocks.close();
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
    return promise;
  }

  private scheduleScan(delayMs: number): void {
    if (this.closed) return;
    if (this.scanTimer !== undefined) clearTimeout(this.scanTimer);
    this.scanTimer = setTimeout(() => {
      this.scanTimer = undefined;
      const began = performance.now();
      this.scanning ??= this.scan()
        .catch((err: unknown) => this.options.logger.warn({ err }, 'resource scan failed'))
        .finally(() => {
          this.options.onScanDone?.((performance.now() - began) / 1000);
          this.scanning = undefined;
          this.scheduleScan(this.options.scanIntervalMs);
        });
    }, delayMs);
    this.scanTimer.unref();
  }

  private async scan(): Promise<void> {
    await this.resumePendingChecks(STALE_PENDING_CHECK_SECONDS);
    const now = Date.now();
    for (const resource of await listCheckableResources(this.options.db)) {
      if (this.closed) return;
      if (resource.checkEvery === 'never') continue;
      if (this.checking.has(resource.id)) continue;
      if (resource.nextCheckTime !== null && resource.nextCheckTime.getTime() > now) continue;
      if ((this.retryAfter.get(resource.id) ?? 0) > now) continue;
      void this.track(
        this.periodicCheck(resource).catch((err: unknown) =>
          this.options.logger.warn({ err, resourceId: resource.id }, 'periodic check failed to run'),
        ),
      );
    }
    if (!this.closed) await this.options.scanResourceTypes?.();
  }

  private async periodicCheck(checkable: CheckableResource): Promise<void> {
    const { db } = this.options;
    const resource = await findResourceById(db, checkable.id);
    if (resource === undefined) return;
    const stored = await loadStoredPipeline(db, resource.pipelineId);
    const config = stored?.config.resources?.find((candidate) => candidate.name === resource.name);
    if (stored === undefined || config === undefined) return;
    const key = configLockKey(resource, config, stored);
    if (this.checking.has(resource.id) || !(await this.configLocks.tryLock(key))) return;
    this.checking.add(resource.id);
    try {
      // Another node may have checked it between the scan and the lock: its check end moved the time on.
      if (!(await isDueForCheck(db, resource.id)) || (await hasUnfinishedCheck(db, resource.id))) return;
      const build = await createResourceCheckBuild(db, resource.id, {
        createdBy: null,
        manuallyTriggered: false,
      });
      if (build === undefined) return;
      const plan = planResourceCheck({
        resource: config,
        resourceTypes: stored.config.resource_types ?? [],
        ...(resource.pinnedVersion !== null ? { fromVersion: resource.pinnedVersion } : {}),
        defaultInterval: this.defaultInterval(resource),
        planIds: this.planIds,
      });
      await this.run(build.id, resource, config, stored, plan);
    } finally {
      this.checking.delete(resource.id);
      await this.configLocks.unlock(key);
    }
  }

  private async manualCheck(check: RequestedCheck): Promise<BuildOutcome | undefined> {
    const { db, tracker } = this.options;
    const resource = await findResourceById(db, check.resourceId);
    const stored = resource === undefined ? undefined : await loadStoredPipeline(db, resource.pipelineId);
    const config = stored?.config.resources?.find((candidate) => candidate.name === resource?.name);
    if (resource === undefined || stored === undefined || config === undefined) {
      await tracker.finishPendingBuild(check.buildId, 'errored', 'resource not found');
      return undefined;
    }
    const plan = planResourceCheck({
      resource: config,
      resourceTypes: stored.config.resource_types ?? [],
      ...(check.from !== null ? { fromVersion: check.from } : {}),
      defaultInterval: this.defaultInterval(resource),
      skipInterval: true,
      skipIntervalRecursively: !check.shallow,
      planIds: this.planIds,
    });
    const key = configLockKey(resource, config, stored);
    await this.configLocks.lock(key);
    this.checking.add(resource.id);
    try {
      return await this.run(check.buildId, resource, config, stored, plan);
    } finally {
      this.checking.delete(resource.id);
      await this.configLocks.unlock(key);
    }
  }

  /**
   * Check builds still pending `olderThanSeconds` after they were created (their request was lost: the node
   * that took it stopped, or it arrived while none ran): run them as manual checks. The tracker's lock
   * makes sure only one node runs each.
   */
  private async resumePendingChecks(olderThanSeconds = 0): Promise<void> {
    const pending = await this.options.db
      .selectFrom('builds')
      .select(['id', 'resource_id'])
      .where('resource_id', 'is not', null)
      .where('status', '=', 'pending')
      .where('created_at', '<=', sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`)
      .orderBy('id')
      .execute();
    for (const build of pending) {
      if (build.resource_id === null || this.resuming.has(build.id)) continue;
      this.resuming.add(build.id);
      void this.runRequestedCheck({
        buildId: build.id,
        resourceId: build.resource_id,
        from: null,
        shallow: true,
      }).finally(() => this.resuming.delete(build.id));
    }
  }

  /** Run the check build and record its outcome; resolves once it finished (undefined if it never started). */
  private run(
    buildId: number,
    resource: ResourceRecord,
    config: ResourceConfig,
    stored: StoredPipeline,
    plan: Plan,
  ): Promise<BuildOutcome | undefined> {
    const { tracker, logger } = this.options;
    return new Promise<BuildOutcome | undefined>((resolve) => {
      tracker
        .startPendingBuild(
          buildId,
          plan,
          this.checkRun(buildId, resource, config, stored, new Date(), resolve),
        )
        .then(
          (started) => {
            if (started === undefined) resolve(undefined);
          },
          (err: unknown) => {
            logger.warn({ err, buildId }, 'check build could not start');
            resolve(undefined);
          },
        );
    });
  }

  /**
   * The run of a resource's check build interrupted by a restart (step recovery collected its `check`
   * script): it saves the versions found and records the check's end as the node that started it would
   * have, its config's lock held until it ends. Undefined when its resource or pipeline config is gone (the
   * build then ends errored).
   */
  async resumedRun(
    build: { id: number; startTime: Date | null },
    resourceId: number,
  ): Promise<PipelineBuildRun | undefined> {
    const { db } = this.options;
    const resource = await findResourceById(db, resourceId);
    const stored = resource === undefined ? undefined : await loadStoredPipeline(db, resource.pipelineId);
    const config = stored?.config.resources?.find((candidate) => candidate.name === resource?.name);
    if (resource === undefined || stored === undefined || config === undefined) return undefined;
    // One check per config at a time, as for any check: its lock is held until it ends.
    const key = configLockKey(resource, config, stored);
    await this.configLocks.lock(key);
    this.checking.add(resource.id);
    const release = () => {
      this.checking.delete(resource.id);
      void this.configLocks.unlock(key);
    };
    const run = this.checkRun(build.id, resource, config, stored, build.startTime ?? new Date(), release);
    return { ...run, abandon: release };
  }

  /** What a check build runs with: the resource's vars, its scope's versions, and its end recorded. */
  private checkRun(
    buildId: number,
    resource: ResourceRecord,
    config: ResourceConfig,
    stored: StoredPipeline,
    startedAt: Date,
    finished: (status: BuildOutcome) => void,
  ): PipelineBuildRun {
    const { db, logger } = this.options;
    const resourceTypes = stored.config.resource_types ?? [];
    const intervalMs = this.intervalMs(resource, config);
    let scope: ResourceScope | undefined;
    const scopeFor = async (type: string, source: Record<string, unknown>): Promise<ResourceScope> => {
      scope = await this.scopes.forResource({ resourceId: resource.id, type, source, resourceTypes });
      return scope;
    };
    return {
      ...pipelineCheckRun(this.options.credentials, resource, stored.config.var_sources),
      resourceTypes: this.options.resourceTypes,
      defaultCheckTimeoutMs: this.options.defaultCheckTimeoutMs,
      latestCheckedVersion: async (ref) => latestVersion(db, (await scopeFor(ref.type, ref.source)).scopeId),
      onCheckVersions: async (result) => {
        const { scopeId } = scope ?? (await scopeFor(result.type, result.source));
        const added = await saveResourceVersions(
          db,
          scopeId,
          result.versions.map((version) => ({ version })),
        );
        logger.debug(
          { resourceId: resource.id, scopeId, found: result.versions.length, added },
          'check saved versions',
        );
        if (added > 0) {
          this.options.onNewVersions({
            id: resource.id,
            name: resource.name,
            pipelineId: resource.pipelineId,
          });
        }
      },
      onFinished: async (status) => {
        await this.recordCheckEnd(buildId, resource.id, scope, startedAt, status, intervalMs).catch(
          (err: unknown) => logger.warn({ err, buildId }, 'failed to record the end of a check'),
        );
        const waiting = this.inputWaiters.get(resource.id);
        this.inputWaiters.delete(resource.id);
        for (const jobId of waiting ?? []) this.options.onInputChecked?.({ resourceId: resource.id, jobId });
        finished(status);
      },
    };
  }

  /** UpdateLastCheckEndTime, and the resource's check error. */
  private async recordCheckEnd(
    buildId: number,
    resourceId: number,
    scope: ResourceScope | undefined,
    startedAt: Date,
    status: BuildOutcome,
    intervalMs: number,
  ): Promise<void> {
    const { db } = this.options;
    const succeeded = status === 'succeeded';
    const scopeId = scope?.scopeId ?? (await findResourceById(db, resourceId))?.resourceConfigScopeId ?? null;
    const delayMs = this.withJitter(intervalMs);
    if (scopeId !== null) {
      await db
        .updateTable('resource_config_scopes')
        .set({
          last_check_start_time: startedAt,
          last_check_end_time: sql<Date>`now()`,
          last_check_succeeded: succeeded,
          next_check_time: sql<Date>`now() + make_interval(secs => ${delayMs / 1000})`,
        })
        .where('id', '=', scopeId)
        .execute();
      this.retryAfter.delete(resourceId);
    } else {
      // Failed before its config was known (bad vars, unknown type): wait an interval all the same.
      this.retryAfter.set(resourceId, Date.now() + delayMs);
    }
    await setResourceCheckError(db, resourceId, succeeded ? null : await checkErrorOf(db, buildId, status));
  }

  private defaultInterval(resource: { webhookToken: string | null }): string {
    if (resource.webhookToken !== null && resource.webhookToken !== '') {
      // Concourse never checks webhook resources more often than others.
      const webhook = parseGoDuration(this.options.webhookCheckInterval);
      const normal = parseGoDuration(this.options.defaultCheckInterval);
      return webhook >= normal ? this.options.webhookCheckInterval : this.options.defaultCheckInterval;
    }
    return this.options.defaultCheckInterval;
  }

  private intervalMs(resource: ResourceRecord, config: ResourceConfig): number {
    const interval = checkInterval(config.check_every, this.defaultInterval(resource));
    return interval === 'never'
      ? parseGoDuration(this.options.defaultCheckInterval)
      : parseGoDuration(interval);
  }

  /** Up to a tenth of the interval earlier (at most one scan interval), so checks set together drift apart. */
  private withJitter(intervalMs: number): number {
    const spread = Math.min(intervalMs / 10, this.options.scanIntervalMs);
    return Math.max(0, intervalMs - Math.random() * spread);
  }
}

/** The key of the resource config a check is for, before its vars are evaluated (see KeyedMutex). */
function configLockKey(resource: ResourceRecord, config: ResourceConfig, stored: StoredPipeline): string {
  const types = new PipelineResourceTypes(stored.config.resource_types ?? []);
  const source = JSON.stringify(types.sourceWithDefaults(config.type, config.source));
  // Vars may resolve differently per team and pipeline: only identical literal sources are one config.
  const context = source.includes('((') ? `${resource.teamName}/${resource.pipelineId}` : '';
  return `${config.type}\u0000${source}\u0000${context}`;
}

/** The resource's scope (read now, not at scan time) has no next check time yet, or it has come. */
async function isDueForCheck(db: Kysely<Database>, resourceId: number): Promise<boolean> {
  const row = await db
    .selectFrom('resources as r')
    .leftJoin('resource_config_scopes as s', 's.id', 'r.resource_config_scope_id')
    .select(sql<boolean>`s.next_check_time is null or s.next_check_time <= now()`.as('due'))
    .where('r.id', '=', resourceId)
    .executeTakeFirst();
  return row?.due === true;
}

async function hasUnfinishedCheck(db: Kysely<Database>, resourceId: number): Promise<boolean> {
  const row = await db
    .selectFrom('builds')
    .select('id')
    .where('resource_id', '=', resourceId)
    .where('status', 'in', ['pending', 'started'])
    .executeTakeFirst();
  return row !== undefined;
}

/** What went wrong in a check build: its last error event, else its status. */
export async function checkErrorOf(
  db: Kysely<Database>,
  buildId: number,
  status: BuildOutcome,
): Promise<string> {
  const row = await db
    .selectFrom('build_events')
    .select('payload')
    .where('build_id', '=', buildId)
    .where('type', '=', 'error')
    .orderBy('event_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (row !== undefined) {
    try {
      const message = (JSON.parse(row.payload) as { data?: { message?: unknown } }).data?.message;
      if (typeof message === 'string' && message !== '') return message;
    } catch {
      // fall through to the status
    }
  }
  return `check ${status}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
