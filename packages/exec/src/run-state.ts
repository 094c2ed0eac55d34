// Everything the steps of one build share while it runs: Concourse's exec.RunState plus the delegates'
// event emission.
import type { Container, Worker } from '@jetbridge/runtime';
import type { ArtifactCatalog } from './artifact-catalog.js';
import { BuildArtifactRepository } from './artifact-repository.js';
import { unixSeconds, type Clock } from './clock.js';
import { errorEvent, type BuildEvent, type BuildEventSink, type EventOrigin } from './events.js';
import type { Logger } from './logger.js';
import type { Redactor } from './redactor.js';

/** Who the build is; container metadata and volume owners are derived from it. */
export interface BuildIdentity {
  id: number;
  name: string;
  teamName: string;
  pipelineId?: number;
  pipelineName?: string;
  pipelineInstanceVars?: Record<string, unknown>;
  jobId?: number;
  jobName?: string;
}

export interface RunStateOptions {
  build: BuildIdentity;
  worker: Worker;
  catalog: ArtifactCatalog;
  sink: BuildEventSink;
  redactor: Redactor;
  logger: Logger;
  clock: Clock;
  /** Timeout of task steps that set none (web flag `--default-task-timeout`), in ms. */
  defaultTaskTimeoutMs?: number;
  /** Given to tasks as ATC_EXTERNAL_URL. */
  externalUrl?: string;
  partialLineFlushMs?: number;
  onContainerDone?: (container: Container) => void | Promise<void>;
}

export class RunState {
  readonly build: BuildIdentity;
  readonly worker: Worker;
  readonly catalog: ArtifactCatalog;
  readonly redactor: Redactor;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly artifacts = new BuildArtifactRepository();
  readonly defaultTaskTimeoutMs: number | undefined;
  readonly externalUrl: string | undefined;
  readonly partialLineFlushMs: number | undefined;

  private readonly sink: BuildEventSink;
  private emitted: Promise<void> = Promise.resolve();
  private readonly loggedErrors = new WeakSet<object>();
  private readonly finishedContainers: Container[] = [];
  private readonly onContainerDone: ((container: Container) => void | Promise<void>) | undefined;

  constructor(options: RunStateOptions) {
    this.build = options.build;
    this.worker = options.worker;
    this.catalog = options.catalog;
    this.sink = options.sink;
    this.redactor = options.redactor;
    this.logger = options.logger;
    this.clock = options.clock;
    this.defaultTaskTimeoutMs = options.defaultTaskTimeoutMs;
    this.externalUrl = options.externalUrl;
    this.partialLineFlushMs = options.partialLineFlushMs;
    this.onContainerDone = options.onContainerDone;
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
    const emitted = this.emitted.then(async () => {
      try {
        await this.sink.emit(event);
      } catch (error) {
        this.logger.error(
          { buildId: this.build.id, event: event.event, err: String(error) },
          'failed to emit a build event',
        );
      }
    });
    this.emitted = emitted;
    return emitted;
  }

  /** An `error` event for a step (Concourse's LogErrorStep); the error is remembered as reported. */
  async emitError(origin: EventOrigin, message: string, error?: unknown): Promise<void> {
    if (typeof error === 'object' && error !== null) this.loggedErrors.add(error);
    await this.emit(errorEvent(this.now(), origin, this.redactor.redact(message)));
  }

  wasReported(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.loggedErrors.has(error);
  }

  /** A step is done with its container: hand it to `onContainerDone`, or destroy it when the build ends. */
  async containerDone(container: Container): Promise<void> {
    if (this.onContainerDone === undefined) {
      this.finishedContainers.push(container);
      return;
    }
    try {
      await this.onContainerDone(container);
    } catch (error) {
      this.logger.error({ handle: container.handle, err: String(error) }, 'onContainerDone failed');
    }
  }

  /** Called once when the build is over. */
  async finish(): Promise<void> {
    await this.emitted;
    for (const container of this.finishedContainers.splice(0)) {
      try {
        await container.destroy();
      } catch (error) {
        this.logger.error({ handle: container.handle, err: String(error) }, 'failed to destroy a container');
      }
    }
  }
}
