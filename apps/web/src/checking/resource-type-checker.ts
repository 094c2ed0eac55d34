// `fly check-resource-type` (Concourse's CheckResourceType): a resource type's image resource — its own
// `type` and `source` — is checked like a resource, through a check build the API created. Its versions go to
// the type's config scope (never a resource's own: Concourse's type scopes are shared), and the type records
// its scope and check error. One check per config at a time, as for resources.
import {
  findCheckableResourceType,
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  recordResourceTypeCheck,
  saveResourceVersions,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { BuildOutcome, ResourceTypeResolver } from '@jetbridge/exec';
import type { Version } from '@jetbridge/plan';
import { PipelineResourceTypes, planResourceCheck, PlanIdFactory } from '@jetbridge/planner';
import type { FastifyBaseLogger } from 'fastify';
import type { BuildTracker } from '../builds/build-tracker.js';
import type { CredentialManager } from '../creds/index.js';
import { checkErrorOf } from './checker.js';
import { latestVersion, pipelineCheckRun } from './pipeline-check-build.js';
import type { ResourceCheckingLocks } from './resource-checking-locks.js';
import { resourceConfigType } from './resource-config-scopes.js';
import { loadStoredPipeline } from './stored-pipeline-config.js';

export interface ResourceTypeCheckerOptions {
  db: Kysely<Database>;
  /** One check per config at a time, with the resource checker of this node (the owner closes them). */
  locks: ResourceCheckingLocks;
  logger: FastifyBaseLogger;
  tracker: BuildTracker;
  credentials: CredentialManager;
  resourceTypes: ResourceTypeResolver;
  /** `--resource-checking-interval`, a Go duration. */
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

export class ResourceTypeChecker {
  private readonly planIds = new PlanIdFactory();

  constructor(private readonly options: ResourceTypeCheckerOptions) {}

  /** Run the pending check build; resolves with how it ended (undefined if it never started). Never rejects. */
  async run(check: RequestedTypeCheck): Promise<BuildOutcome | undefined> {
    try {
      return await this.check(check);
    } catch (err) {
      this.options.logger.warn({ err, buildId: check.buildId }, 'resource type check failed to start');
      await this.options.tracker
        .finishPendingBuild(check.buildId, 'errored', err instanceof Error ? err.message : String(err))
        .catch(() => undefined);
      return undefined;
    }
  }

  private async check(check: RequestedTypeCheck): Promise<BuildOutcome | undefined> {
    const { db, tracker, logger } = this.options;
    const type = await findCheckableResourceType(db, check.resourceTypeId);
    const stored = type === undefined ? undefined : await loadStoredPipeline(db, type.pipelineId);
    const config = stored?.config.resource_types?.find((candidate) => candidate.name === type?.name);
    if (type === undefined || stored === undefined || config === undefined) {
      await tracker.finishPendingBuild(check.buildId, 'errored', 'resource type not found');
      return undefined;
    }
    // Inside a type's own definition, its `type:` names the type it builds on, never itself.
    const others = (stored.config.resource_types ?? []).filter((candidate) => candidate !== config);
    const plan = planResourceCheck({
      resource: {
        name: config.name,
        type: config.type,
        ...(config.source !== undefined ? { source: config.source } : {}),
        ...(config.check_every !== undefined ? { check_every: config.check_every } : {}),
        ...(config.tags !== undefined ? { tags: config.tags } : {}),
      },
      resourceTypes: others,
      ...(check.from !== null ? { fromVersion: check.from } : {}),
      defaultInterval: this.options.defaultCheckInterval,
      skipInterval: true,
      skipIntervalRecursively: !check.shallow,
      planIds: this.planIds,
    });
    const lockKey = `type\u0000${config.type}\u0000${JSON.stringify(
      new PipelineResourceTypes(others).sourceWithDefaults(config.type, config.source),
    )}\u0000${type.pipelineId}`;
    await this.options.locks.lock(lockKey);
    try {
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
      return await new Promise<BuildOutcome | undefined>((resolve, reject) => {
        tracker
          .startPendingBuild(check.buildId, plan, {
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
              const checkError =
                status === 'succeeded' ? null : await checkErrorOf(db, check.buildId, status);
              await recordResourceTypeCheck(db, type.id, { ...(scope ?? {}), checkError }).catch(
                (err: unknown) =>
                  logger.warn({ err, buildId: check.buildId }, 'failed to record a type check'),
              );
              resolve(status);
            },
          })
          .then((started) => {
            if (started === undefined) resolve(undefined);
          }, reject);
      });
    } finally {
      await this.options.locks.unlock(lockKey);
    }
  }
}
