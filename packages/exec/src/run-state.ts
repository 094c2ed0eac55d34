// Everything the steps of one build share while it runs: Concourse's exec.RunState plus the delegates'
// event emission. An across combination runs in a local scope: its own artifacts and local vars, the same
// events, results, redactor and containers.
import type { Container, Worker } from '@jetbridge/runtime';
import type { ArtifactCatalog } from './artifact-catalog.js';
import { BuildArtifactRepository } from './artifact-repository.js';
import type { BuildRecorder } from './build-recorder.js';
import { unixSeconds, type Clock } from './clock.js';
import { errorEvent, type BuildEvent, type BuildEventSink, type EventOrigin } from './events.js';
import type { Logger } from './logger.js';
import type { Redactor } from './redactor.js';
import type { ResourceTypeResolver } from './resource-type-resolver.js';
import type { StepJournal } from './step-journal.js';
import { BuildVars, type VarsResolver } from './vars/build-vars.js';

/** Who the build is; container metadata, volume owners and resource env vars are derived from it. */
export interface BuildIdentity {
  id: number;
  name: string;
  teamName: string;
  teamId?: number;
  pipelineId?: number;
  pipelineName?: string;
  pipelineInstanceVars?: Record<string, unknown>;
  jobId?: number;
  jobName?: string;
  /** Who triggered the build; puts with `expose_build_created_by` get it as BUILD_CREATED_BY. */
  createdBy?: string;
}

/** Step timeouts that apply when a step sets none, in ms (Concourse's `--default-*-timeout` flags). */
export interface DefaultTimeouts {
  task?: number;
  get?: number;
  put?: number;
  check?: number;
}

export interface RunStateOptions {
  build: BuildIdentity;
  worker: Worker;
  catalog: ArtifactCatalog;
  sink: BuildEventSink;
  redactor: Redactor;
  logger: Logger;
  clock: Clock;
  defaultTimeouts?: DefaultTimeouts;
  /** Given to tasks as ATC_EXTERNAL_URL, and used for BUILD_URL in resource steps. */
  externalUrl?: string;
  partialLineFlushMs?: number;
  onContainerDone?: (container: Container) => void | Promise<void>;
  vars?: VarsResolver;
  resourceTypes?: ResourceTypeResolver;
  recorder?: BuildRecorder;
  journal?: StepJournal;
}

/** What every scope of one build shares. */
class SharedState {
  emitted: Promise<void> = Promise.resolve();
  readonly loggedErrors = new WeakSet<object>();
  readonly finishedContainers: Container[] = [];
  /** Step results by plan id (Concourse's StoreResult): put/check versions for `version_from`. */
  readonly results = new Map<string, unknown>();
}

export class RunState {
  readonly build: BuildIdentity;
  readonly worker: Worker;
  readonly catalog: ArtifactCatalog;
  readonly redactor: Redactor;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly artifacts: BuildArtifactRepository;
  readonly vars: BuildVars;
  readonly defaultTimeouts: DefaultTimeouts;
  readonly externalUrl: string | undefined;
  readonly partialLineFlushMs: number | undefined;
  readonly resourceTypes: ResourceTypeResolver | undefined;
  readonly recorder: BuildRecorder;
  /** Where leaf steps record their results, and find those of an earlier run of the build to replay. */
  readonly journal: StepJournal | undefined;

  private readonly shared: SharedState;

  constructor(
    private readonly options: RunStateOptions,
    scope?: { shared: SharedState; artifacts: BuildArtifactRepository; vars: BuildVars },
  ) {
    this.build = options.build;
    this.worker = options.worker;
    this.catalog = options.catalog;
    this.redactor = options.redactor;
    this.logger = options.logger;
    this.clock = options.clock;
    this.defaultTimeouts = options.defaultTimeouts ?? {};
    this.externalUrl = options.externalUrl;
    this.partialLineFlushMs = options.partialLineFlushMs;
    this.resourceTypes = options.resourceTypes;
    this.recorder = options.recorder ?? {};
    this.journal = options.journal;
    this.shared = scope?.shared ?? new SharedState();
    this.artifacts = scope?.artifacts ?? new BuildArtifactRepository();
    this.vars = scope?.vars ?? new BuildVars(options.vars, options.redactor);
  }

  /** A child scope (Concourse's NewLocalScope): artifacts and local vars made in it stay in it. */
  newLocalScope(): RunState {
    return new RunState(this.options, {
      shared: this.shared,
      artifacts: this.artifacts.newLocalScope(),
      vars: this.vars.newLocalScope(),
    });
  }

  /** Event `time`: now, in Unix seconds. */
  now(): number {
    return unixSeconds(this.clock);
  }

  /**
   * Emit an event after every event emitted before it; the sink is never called concurrently. A sink
   * failure is logged, not thrown: a build does not fail because its log could not be stored.
   */
  emit(event: BuildEvent): Promise<void> {
    const emitted = this.shared.emitted.then(async () => {
      try {
        await this.options.sink.emit(event);
      } catch (error) {
        this.logger.error(
          { buildId: this.build.id, event: event.event, err: String(error) },
          'failed to emit a build event',
        );
      }
    });
    this.shared.emitted = emitted;
    return emitted;
  }

  /** An `error` event for a step (Concourse's LogErrorStep); the error is remembered as reported. */
  async emitError(origin: EventOrigin, message: string, error?: unknown): Promise<void> {
    if (typeof error === 'object' && error !== null) this.shared.loggedErrors.add(error);
    await this.emit(errorEvent(this.now(), origin, this.redactor.redact(message)));
  }

  wasReported(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.shared.loggedErrors.has(error);
  }

  storeResult(planId: string, value: unknown): void {
    this.shared.results.set(planId, value);
  }

  result(planId: string): unknown {
    return this.shared.results.get(planId);
  }

  /** A step is done with its container: hand it to `onContainerDone`, or destroy it when the build ends. */
  async containerDone(container: Container): Promise<void> {
    const onContainerDone = this.options.onContainerDone;
    if (onContainerDone === undefined) {
      this.shared.finishedContainers.push(container);
      return;
    }
    try {
      await onContainerDone(container);
    } catch (error) {
      this.logger.error({ handle: container.handle, err: String(error) }, 'onContainerDone failed');
    }
  }

  /** Called once when the build is over. */
  async finish(): Promise<void> {
    await this.shared.emitted;
    for (const container of this.shared.finishedContainers.splice(0)) {
      try {
        await container.destroy();
      } catch (error) {
        this.logger.error({ handle: container.handle, err: String(error) }, 'failed to destroy a container');
      }
    }
  }
}
