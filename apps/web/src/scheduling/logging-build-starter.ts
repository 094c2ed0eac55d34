// The BuildStarter a server has until job builds can be planned and run: it says, once per build, what the
// scheduler decided (which build, which versions) and leaves the build pending. Pending builds that will
// never start (aborted, archived pipeline) are finished through the build tracker, with their status event.
import type {
  BuildInputVersion,
  BuildStarter,
  BuildStartOutcome,
  SchedulableBuild,
} from '@jetbridge/scheduler';
import type { FastifyBaseLogger } from 'fastify';

export class LoggingBuildStarter implements BuildStarter {
  private readonly told = new Set<number>();

  constructor(
    private readonly logger: FastifyBaseLogger,
    private readonly abortBuild: (buildId: number) => Promise<void>,
  ) {}

  async startBuild(
    build: SchedulableBuild,
    inputs: readonly BuildInputVersion[],
  ): Promise<BuildStartOutcome> {
    if (!this.told.has(build.id)) {
      this.told.add(build.id);
      this.logger.info(
        {
          buildId: build.id,
          job: build.jobName,
          pipeline: build.pipelineName,
          build: build.name,
          inputs: inputs.map(({ name, version, firstOccurrence }) => ({ name, version, firstOccurrence })),
        },
        'job build ready to start, but no job build starter is wired in: it stays pending',
      );
    }
    return { started: false, reason: 'no job build starter in this server', errored: false };
  }

  async abortPendingBuild(build: SchedulableBuild): Promise<void> {
    await this.abortBuild(build.id);
  }
}
