// `fly check-resource-type` (Concourse's CheckResourceType): a resource type's image resource — its own
// `type` and `source` — is checked like a resource, through a check build the API created. Its versions go to
// the type's config scope (never a resource's own: Concourse's type scopes are shared), and the type records
// its scope and check error; the scope records when it was last checked. One check per config at a time, as
// for resources. The scanner also checks the types in use periodically (`scanDue`, see
// checkable-resource-types.ts); a periodic check finding its config busy waits for the next scan.
import {
  createResourceTypeCheckBuild,
  findCheckableResourceType,
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  recordResourceTypeCheck,
  saveResourceVersions,
  sql,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { BuildOutcome, ResourceTypeResolver } from '@jetbridge/exec';
import { parseGoDuration, type Plan, type Version } from '@jetbridge/plan';
import type { ResourceTypeConfig } from '@jetbridge/pipeline-config';
import { PipelineResourceTypes, planResourceCheck, PlanIdFactory } from '@jetbridge/planner';
import type { FastifyBaseLogger } from 'fastify';
import type { BuildTracker, PipelineBuildRun } from '../builds/build-tracker.js';
import type { CredentialManager } from '../creds/index.js';
import { isTypeDue, listCheckableResourceTypes, listDueResourceTypes } from './checkable-resource-types.js';
import { checkErrorOf } from './checker.js';
import { latestVersion, pipelineCheckRun } from './pipeline-check-build.js';
import type { ResourceCheckingLocks } from './resource-checking-locks.js';
import { resourceConfigType } from './resource-config-scopes.js';
import { loadStoredPipeline, type StoredPipeline } from './stored-pipeline-config.js';
import { settleWithin } from './settle-within.js';

export interface ResourceTypeCheckerOptions {
  db: Kysely<Database>;
  /** One check per config at a time, with the resource checker of this node (the owner closes them). */
  locks: ResourceCheckingLocks;
  logger: FastifyBaseLogger;
  tracker: BuildTracker;
  credentials: CredentialManager;
  resourceTypes: ResourceTypeResolver;
  /** `--resource-type-checking-interval`, a Go duration: the interval of types without `check_every`. */
  defaultCheckInterval: string;
  /** `--global-resource-check-timeout`, in ms. */
  defaultCheckTimeoutMs: number;
}

export interface RequestedTypeCheck {
  buildId: number;
  resourceTypeId: number;
  from: Version | null;
  shallow: boolean;
}

/** A type with its stored pipeline and config, and the key of the config it checks. */
interface LoadedType {
  type: NonNullable<Awaited<ReturnType<typeof findCheckableResourceType>>>;
  stored: StoredPipeline;
  config: ResourceTypeConfig;
  /** The pipeline's other types: inside a type's definition, its `type:` never names itself. */
  others: ResourceTypeConfig[];
  lockKey: string;
}

export class ResourceTypeChecker {
  private readonly planIds = new PlanIdFactory();
  /** Types with a periodic check running here. */
  private readonly checking = new Set<number>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: ResourceTypeCheckerOptions) {}

  /**
   * Start a check of every type in use that is due (the scanner calls this each scan). Resolves once the
   * checks are started, not finished.
   */
  async scanDue(): Promise<void> {
    const intervalMs = parseGoDuration(this.options.defaultCheckInterval);
    for (const type of await listDueResourceTypes(this.options.db, intervalMs)) {
      if (this.closed) return;
      if (this.checking.has(type.id)) continue;
      const check = this.periodicCheck(type.id, intervalMs).catch((err: unknown) =>
        this.options.logger.warn({ err, resourceTypeId: type.id }, 'periodic type check failed to run'),
      );
      this.running.add(check);
      void check.finally(() => this.running.delete(check));
    }
  }

  /** Start no more periodic checks; wait (up to `graceMs`) for those running here. */
  async close(graceMs = 15_000): Promise<void> {
    this.closed = true;
    await settleWithin(this.running, graceMs);
  }

  /** Run the pending check build; resolves with how it ended (undefined if it never started). Never rejects. */
  async run(check: RequestedTypeCheck): Promise<BuildOutcome | undefined> {
    try {
      return await this.check(check);
    } catch (err) {
      this.options.logger.warn({ err, buildId: check.buildId }, 'resource type check failed to start');
      await this.endErrored(check.buildId, err);
      return undefined;
    }
  }

  private async periodicCheck(resourceTypeId: number, defaultIntervalMs: number): Promise<void> {
    const { db } = this.options;
    const loaded = await this.load(resourceTypeId);
    if (loaded === undefined || this.checking.has(resourceTypeId)) return;
    if (!(await this.options.locks.tryLock(loaded.lockKey))) return;
    this.checking.add(resourceTypeId);
    try {
      // Another node may have checked it between the scan and the lock.
      const [current] = await listCheckableResourceTypes(db, resourceTypeId);
      if (current === undefined || !isTypeDue(current, defaultIntervalMs, Date.now())) return;
      const plan = this.plan(loaded, { from: null, manual: false, shallow: true });
      if (!(await this.canRun(plan))) return;
      const build = await createResourceTypeCheckBuild(db, resourceTypeId, {
        createdBy: null,
        manuallyTriggered: false,
      });
      if (build === undefined) return;
      await this.runLocked(build.id, loaded, plan).catch(async (err: unknown) => {
        await this.endErrored(build.id, err);
        throw err;
      });
    } finally {
      this.checking.delete(resourceTypeId);
      await this.options.locks.unlock(loaded.lockKey);
    }
  }

  /** End a check build that could not run as errored, with why (if it is still pending). */
  private async endErrored(buildId: number, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.options.tracker.finishPendingBuild(buildId, 'errored', message).catch(() => undefined);
  }

  /**
   * Whether this runtime has the type the check runs: the local runtime ignores images, so a type built on
   * `registry-image` (the usual case) has nothing to check there unless the resource types directory has it.
   * Periodic checks skip such types quietly; `fly check-resource-type` still says why it cannot check.
   */
  private async canRun(plan: Plan): Promise<boolean> {
    if (!('check' in plan)) return false;
    try {
      await this.options.resourceTypes.resolve(plan.check.type, plan.check.image ?? {});
      return true;
    } catch (err) {
      this.options.logger.debug(
        { err, type: plan.check.name },
        'resource type not checkable on this runtime',
      );
      return false;
    }
  }

  private async check(check: RequestedTypeCheck): Promise<BuildOutcome | undefined> {
    const loaded = await this.load(check.resourceTypeId);
    if (loaded === undefined) {
      await this.options.tracker.finishPendingBuild(check.buildId, 'errored', 'resource type not found');
      return undefined;
    }
    const plan = this.plan(loaded, { from: check.from, manual: true, shallow: check.shallow });
    await this.options.locks.lock(loaded.lockKey);
    try {
      return await this.runLocked(check.buildId, loaded, plan);
    } finally {
      await this.options.locks.unlock(loaded.lockKey);
    }
  }

  private async load(resourceTypeId: number): Promise<LoadedType | undefined> {
    const { db } = this.options;
    const type = await findCheckableResourceType(db, resourceTypeId);
    const stored = type === undefined ? undefined : await loadStoredPipeline(db, type.pipelineId);
    const config = stored?.config.resource_types?.find((candidate) => candidate.name === type?.name);
    if (type === undefined || stored === undefined || config === undefined) return undefined;
    // Inside a type's own definition, its `type:` names the type it builds on, never itself.
    const others = (stored.config.resource_types ?? []).filter((candidate) => candidate !== config);
    const lockKey = `type\u0000${config.type}\u0000${JSON.stringify(
      new PipelineResourceTypes(others).sourceWithDefaults(config.type, config.source),
    )}\u0000${type.pipelineId}`;
    return { type, stored, config, others, lockKey };
  }

  private plan(
    { config, others }: LoadedType,
    request: { from: Version | null; manual: boolean; shallow: boolean },
  ): Plan {
    return planResourceCheck({
      resource: {
        name: config.name,
        type: config.type,
        ...(config.source !== undefined ? { source: config.source } : {}),
        ...(config.check_every !== undefined ? { check_every: config.check_every } : {}),
        ...(config.tags !== undefined ? { tags: config.tags } : {}),
      },
      resourceTypes: others,
      ...(request.from !== null ? { fromVersion: request.from } : {}),
      defaultInterval: this.options.defaultCheckInterval,
      skipInterval: request.manual,
      skipIntervalRecursively: request.manual && !request.shallow,
      planIds: this.planIds,
    });
  }

  /** Run the type's check build, its config's lock held; resolves once it finished. */
  private runLocked(buildId: number, loaded: LoadedType, plan: Plan): Promise<BuildOutcome | undefined> {
    return new Promise<BuildOutcome | undefined>((resolve, reject) => {
      this.options.tracker
        .startPendingBuild(buildId, plan, this.checkRun(buildId, loaded, new Date(), resolve))
        .then((started) => {
          if (started === undefined) resolve(undefined);
        }, reject);
    });
  }

  /**
   * The run of a type's check build interrupted by a restart (step recovery collected its `check` script):
   * it saves the versions found and records the check as the node that started it would have, its config's
   * lock held until it ends. Undefined when the type or its pipeline config is gone (the build then ends
   * errored).
   */
  async resumedRun(
    build: { id: number; startTime: Date | null },
    resourceTypeId: number,
  ): Promise<PipelineBuildRun | undefined> {
    const loaded = await this.load(resourceTypeId);
    if (loaded === undefined) return undefined;
    await this.options.locks.lock(loaded.lockKey);
    this.checking.add(resourceTypeId);
    const release = () => {
      this.checking.delete(resourceTypeId);
      void this.options.locks.unlock(loaded.lockKey);
    };
    const run = this.checkRun(build.id, loaded, build.startTime ?? new Date(), release);
    return { ...run, abandon: release };
  }

  /** What a type's check build runs with: the type's vars, its scope's versions, and the check recorded. */
  private checkRun(
    buildId: number,
    loaded: LoadedType,
    startedAt: Date,
    finished: (status: BuildOutcome) => void,
  ): PipelineBuildRun {
    const { db, logger } = this.options;
    const { type, stored, others } = loaded;
    let scope: { resourceConfigId: number; scopeId: number } | undefined;
    const scopeFor = async (ref: { type: string; source: Record<string, unknown> }) => {
      const { typeKey } = resourceConfigType(ref.type, others);
      const resourceConfigId = await findOrCreateResourceConfig(db, typeKey, ref.source);
      scope = {
        resourceConfigId,
        scopeId: await findOrCreateResourceConfigScope(db, resourceConfigId, null),
      };
      return scope;
    };
    return {
      ...pipelineCheckRun(this.options.credentials, type, stored.config.var_sources),
      resourceTypes: this.options.resourceTypes,
      defaultCheckTimeoutMs: this.options.defaultCheckTimeoutMs,
      latestCheckedVersion: async (ref) => latestVersion(db, (await scopeFor(ref)).scopeId),
      onCheckVersions: async (result) => {
        const { scopeId } = scope ?? (await scopeFor(result));
        const added = await saveResourceVersions(
          db,
          scopeId,
          result.versions.map((version) => ({ version })),
        );
        logger.debug({ resourceTypeId: type.id, scopeId, added }, 'resource type check saved versions');
      },
      onFinished: async (status) => {
        const checkError = status === 'succeeded' ? null : await checkErrorOf(db, buildId, status);
        try {
          await recordResourceTypeCheck(db, type.id, { ...(scope ?? {}), checkError });
          if (scope !== undefined) await recordScopeCheck(db, scope.scopeId, startedAt, status);
        } catch (err) {
          logger.warn({ err, buildId }, 'failed to record a type check');
        }
        finished(status);
      },
    };
  }
}

/** The scope's last check times (UpdateLastCheckEndTime): when the type is due again is counted from them. */
async function recordScopeCheck(
  db: Kysely<Database>,
  scopeId: number,
  startedAt: Date,
  status: BuildOutcome,
): Promise<void> {
  await db
    .updateTable('resource_config_scopes')
    .set({
      last_check_start_time: startedAt,
      last_check_end_time: sql<Date>`now()`,
      last_check_succeeded: status === 'succeeded',
    })
    .where('id', '=', scopeId)
    .execute();
}
