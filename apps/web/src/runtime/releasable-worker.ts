// A Worker whose containers outlive the web node: once `release()` is called (shutdown of a web whose steps
// run as pods), destroying a container leaves its pod alone. The build tracker destroys the containers of the
// steps it stops at shutdown; with pods, those steps keep running and the next web node (its step recovery
// and pod reaper) deals with them — a restart must not kill a ten-minute step halfway.
import type {
  Container,
  ContainerInfo,
  ContainerSpec,
  Process,
  ProcessIO,
  ProcessSpec,
  Volume,
  VolumeInfo,
  VolumeSpec,
  Worker,
  WorkerInfo,
} from '@jetbridge/runtime';

/** What a runtime must offer to be released rather than closed. */
export interface DisconnectableWorker extends Worker {
  /** Stop watching and following without touching any container. */
  disconnect(): Promise<void>;
}

export class ReleasableWorker implements Worker {
  private released = false;

  constructor(private readonly inner: DisconnectableWorker) {}

  get name(): string {
    return this.inner.name;
  }

  info(): WorkerInfo {
    return this.inner.info();
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    return this.wrap(await this.inner.createContainer(spec));
  }

  async lookupContainer(handle: string): Promise<Container | undefined> {
    const container = await this.inner.lookupContainer(handle);
    return container === undefined ? undefined : this.wrap(container);
  }

  listContainers(): Promise<ContainerInfo[]> {
    return this.inner.listContainers();
  }

  createVolume(spec: VolumeSpec): Promise<Volume> {
    return this.inner.createVolume(spec);
  }

  lookupVolume(handle: string): Promise<Volume | undefined> {
    return this.inner.lookupVolume(handle);
  }

  listVolumes(): Promise<VolumeInfo[]> {
    return this.inner.listVolumes();
  }

  /** Deletes every container (a web that goes for good). */
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Lets go of every container without stopping it; later `destroy()` calls leave them running. */
  async release(): Promise<void> {
    this.released = true;
    await this.inner.disconnect();
  }

  get isReleased(): boolean {
    return this.released;
  }

  private wrap(container: Container): Container {
    const isReleased = () => this.released;
    return {
      get handle() {
        return container.handle;
      },
      get metadata() {
        return container.metadata;
      },
      run: (spec: ProcessSpec, io: ProcessIO): Promise<Process> => container.run(spec, io),
      attach: (processId: string, io: ProcessIO): Promise<Process> => container.attach(processId, io),
      destroy: async (): Promise<void> => {
        if (isReleased()) return;
        await container.destroy();
      },
    };
  }
}
