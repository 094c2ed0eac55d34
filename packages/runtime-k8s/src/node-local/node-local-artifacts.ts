import { Readable } from 'node:stream';
import { isValidHandle } from '@jetbridge/artifact-store';
import { DaemonRequestError, type CapabilityOp } from '@jetbridge/artifact-daemon';
import { RuntimeError } from '@jetbridge/runtime';
import type { ContainerSpec, VolumeInfo, VolumeSpec } from '@jetbridge/runtime';
import type { Logger } from '../logger.js';
import type { Pod } from '../kube/pod-types.js';
import { containerPath, type PodLayout } from '../pods/step-pod.js';
import type { ResolvedNodeLocalArtifacts } from './config.js';
import { DaemonDirectory, type EndpointLister } from './daemon-directory.js';
import { NodeLocalVolume } from './node-local-volume.js';
import { nodeLocalLayout, weightsFromBytes, type NodeLocalInput } from './pod-layout.js';
import { PlacementBook, type PlacedVolume } from './placement.js';

/** What `prepare` decided for a step pod, kept until the pod runs (`started`). */
export interface PreparedPod {
  layout: PodLayout;
  outputs: string[];
}

/** The report the init container prints (`fetch-inputs`). */
export interface InputFetchReport {
  node: string;
  inputs: { handle: string; how: 'local' | 'fetched'; node: string; attempts: number; bytes: number }[];
  bytes: number;
  durationMs: number;
}

/** "node-a" / "nodes node-a, node-b": for messages. */
function nodesText(nodes: readonly string[]): string {
  return nodes.length === 1 ? `node ${nodes[0]}` : `nodes ${nodes.join(', ')}`;
}

/**
 * The node-local artifact mode: volumes are artifacts on the nodes' daemons. This object keeps where each
 * lives (PlacementBook), signs the capabilities for each transfer, places step pods near their inputs,
 * adopts their outputs once they run, and mirrors finished outputs to other nodes.
 */
export class NodeLocalArtifacts {
  readonly daemons: DaemonDirectory;
  readonly #book = new PlacementBook();
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ResolvedNodeLocalArtifacts,
    private readonly workerName: string,
    private readonly logger: Logger,
    lister?: EndpointLister,
  ) {
    this.daemons = new DaemonDirectory(config, lister);
    if (config.leaseRenewIntervalMs > 0) {
      this.#renewTimer = setInterval(() => void this.renewLeases(), config.leaseRenewIntervalMs);
      this.#renewTimer.unref();
    }
  }

  /** Stops renewing leases (the daemons' TTL sweep takes what nobody renews any more). */
  close(): void {
    clearInterval(this.#renewTimer);
  }

  /** Renews the lease of every copy of every volume this worker holds; returns how many were renewed. */
  async renewLeases(): Promise<number> {
    let renewed = 0;
    for (const volume of this.#book.list()) {
      const token = this.sign(volume.handle, volume.teamName, ['stat']);
      for (const node of volume.nodes) {
        try {
          await this.daemons.client(node, 'oneShot').renew(volume.handle, token);
          renewed++;
        } catch (error) {
          this.logger.warn(
            { handle: volume.handle, node, err: (error as Error).message },
            'could not renew an artifact lease',
          );
        }
      }
    }
    return renewed;
  }

  /** Learns what the reachable daemons hold (after a web restart); the oldest copy is the primary. */
  async refresh(): Promise<void> {
    const token = this.sign('*', '', ['list']);
    const found = new Map<string, { volume: PlacedVolume; copies: { node: string; createdAt: string }[] }>();
    for (const health of await this.daemons.all()) {
      if (!health.reachable) continue;
      for (const listed of await this.daemons.client(health.node).list(token)) {
        const entry = found.get(listed.handle) ?? {
          volume: {
            handle: listed.handle,
            owner: listed.owner as PlacedVolume['owner'],
            teamName: listed.team,
            type: listed.type as PlacedVolume['type'],
            nodes: [],
          },
          copies: [],
        };
        entry.copies.push({ node: health.node, createdAt: listed.createdAt });
        found.set(listed.handle, entry);
      }
    }
    for (const { volume, copies } of found.values()) {
      volume.nodes = copies.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((copy) => copy.node);
      if (!this.#book.get(volume.handle)) this.#book.add(volume);
    }
  }

  get volumeCount(): number {
    return this.#book.size;
  }

  placementOf(handle: string): PlacedVolume | undefined {
    return this.#book.get(handle);
  }

  createVolume(spec: VolumeSpec & { handle: string }): NodeLocalVolume {
    if (!isValidHandle(spec.handle)) throw new RuntimeError(`invalid volume handle '${spec.handle}'`);
    if (this.#book.get(spec.handle)) throw new RuntimeError(`volume ${spec.handle} already exists`);
    this.#book.add({
      handle: spec.handle,
      owner: spec.owner,
      teamName: spec.teamName,
      type: spec.type ?? 'artifact',
      nodes: [],
    });
    return new NodeLocalVolume(spec.handle, this);
  }

  lookupVolume(handle: string): NodeLocalVolume | undefined {
    return this.#book.get(handle) ? new NodeLocalVolume(handle, this) : undefined;
  }

  listVolumes(): VolumeInfo[] {
    return this.#book.list().map((volume) => ({
      handle: volume.handle,
      workerName: this.workerName,
      type: volume.type,
      teamName: volume.teamName,
      owner: volume.owner,
      path: volume.nodes.length > 0 ? `${volume.nodes[0]}:${this.config.hostPath}/data/${volume.handle}` : '',
    }));
  }

  /** A capability for one artifact (or `*` for list), valid for the configured lifetime. */
  sign(handle: string, team: string, ops: CapabilityOp[], volume?: PlacedVolume, step?: string): string {
    return this.config.key.sign(
      {
        handle,
        team,
        ops,
        ...(volume ? { owner: volume.owner, type: volume.type } : {}),
        ...(step ? { step } : {}),
      },
      this.config.capabilityTtlMs,
    );
  }

  async streamIn(handle: string, inside: string, tar: Readable): Promise<void> {
    const volume = this.mustGet(handle);
    const token = this.sign(handle, volume.teamName, ['put', 'get', 'stat'], volume);
    try {
      if (volume.nodes.length === 0) {
        const [target] = await this.daemons.ready();
        if (!target)
          throw new RuntimeError(`cannot store volume ${handle}: no node has a ready artifact daemon`);
        const client = this.daemons.client(target.node, 'oneShot');
        if (inside === '.') {
          await client.put(handle, token, () => tar);
        } else {
          await client.put(handle, token, () => Readable.from([Buffer.alloc(1024)]));
          await client.extract(handle, token, inside, tar);
        }
        volume.nodes = [target.node];
      } else {
        const primary = await this.readableNode(volume);
        await this.daemons.client(primary, 'oneShot').extract(handle, token, inside, tar);
        await this.dropMirrors(volume, primary);
      }
    } catch (error) {
      throw this.asRuntimeError(error, `cannot stream into volume ${handle}`);
    }
    volume.bytes = undefined;
    await this.mirror(volume);
  }

  /** A verified tar stream of `inside` from the first node holding the volume whose daemon answers. */
  async openTar(handle: string, inside: string): Promise<Readable> {
    const volume = this.mustGet(handle);
    const node = await this.readableNode(volume);
    const token = this.sign(handle, volume.teamName, ['get']);
    try {
      return await this.daemons.client(node).openTar(handle, token, { path: inside });
    } catch (error) {
      if (error instanceof DaemonRequestError && error.httpStatus === 404) throw error;
      throw this.asRuntimeError(error, `cannot read volume ${handle} from node ${node}`);
    }
  }

  async destroy(handle: string): Promise<void> {
    const volume = this.#book.get(handle);
    if (!volume) return;
    const token = this.sign(handle, volume.teamName, ['delete']);
    await Promise.all(
      volume.nodes.map((node) =>
        this.daemons
          .client(node, 'oneShot')
          .delete(handle, token)
          .catch((error: unknown) =>
            this.logger.warn(
              { handle, node, err: (error as Error).message },
              'could not delete an artifact (its daemon sweeps it by TTL)',
            ),
          ),
      ),
    );
    this.#book.delete(handle);
  }

  /**
   * The pod layout for a step: inputs' sources (nodes whose daemons answer; an input left on no such node
   * errors here, naming the lost node), outputs as incoming/ mounts, and the node affinity.
   */
  async prepare(spec: ContainerSpec, workDir: string): Promise<PreparedPod> {
    const step = spec.metadata.stepName ?? spec.handle;
    const health = new Map((await this.daemons.all()).map((each) => [each.node, each]));
    const readyNodes = [...health.values()].filter((each) => each.ready).map((each) => each.node);
    if (readyNodes.length === 0) {
      throw new RuntimeError(
        `step ${step} cannot run: no node has a ready artifact daemon (${[...health.values()].map((each) => `${each.node}: ${each.reason ?? 'not ready'}`).join('; ')})`,
      );
    }
    const inputs: NodeLocalInput[] = [];
    const prefilled: NodeLocalInput[] = [];
    const outputs: { handle: string; mountPath: string }[] = [];
    const bytesOnNode = new Map<string, number>();
    for (const mount of spec.mounts) {
      const volume = this.#book.get(mount.volume.handle);
      if (!volume)
        throw new RuntimeError(`volume ${mount.volume.handle} is not on worker ${this.workerName}`);
      const mountPath = containerPath(workDir, mount.path);
      const readOnly = mount.readOnly ?? false;
      if (!readOnly) outputs.push({ handle: volume.handle, mountPath });
      if (volume.nodes.length === 0) {
        // A volume that holds nothing: an empty input directory, or an output that starts empty.
        if (readOnly) inputs.push({ handle: volume.handle, mountPath, sources: [], token: '' });
        continue;
      }
      const alive = volume.nodes.filter((node) => health.get(node)?.reachable);
      if (alive.length === 0) {
        const why = volume.nodes.map((node) => health.get(node)?.reason ?? 'unknown').join('; ');
        throw new RuntimeError(
          `step ${step}: artifact ${volume.handle} (mounted at ${mount.path}) only lived on ${nodesText(volume.nodes)}, which ${volume.nodes.length === 1 ? 'is' : 'are'} gone: ${why}. Re-run the build (or the step that produced it) to make it again.`,
        );
      }
      const bytes = await this.sizeOf(volume, alive[0] as string);
      for (const node of alive) bytesOnNode.set(node, (bytesOnNode.get(node) ?? 0) + bytes);
      const fetch: NodeLocalInput = {
        handle: volume.handle,
        mountPath,
        sources: alive.map((node) => ({ node, url: this.daemons.url(node) })),
        token: this.sign(volume.handle, volume.teamName, ['get'], undefined, spec.handle),
      };
      (readOnly ? inputs : prefilled).push(fetch);
    }
    const layout = nodeLocalLayout({
      workDir,
      hostPath: this.config.hostPath,
      inputs,
      outputs,
      prefilled,
      readyNodes,
      weights: weightsFromBytes(bytesOnNode),
      attempts: this.config.transferAttempts,
      ...(this.config.tls?.caPathInPod ? { caPathInPod: this.config.tls.caPathInPod } : {}),
    });
    return { layout, outputs: outputs.map((each) => each.handle) };
  }

  /**
   * The pod runs on `pod.spec.nodeName`: its outputs (incoming/<handle> there) become that node's artifacts,
   * and copies elsewhere (an output that started from content on another node) are dropped.
   */
  async started(pod: Pod | undefined, prepared: PreparedPod): Promise<void> {
    const node = pod?.spec.nodeName;
    if (!node) throw new RuntimeError('the step pod runs, but on no node the API reports');
    for (const handle of prepared.outputs) {
      const volume = this.mustGet(handle);
      const token = this.sign(handle, volume.teamName, ['put', 'get', 'stat'], volume);
      try {
        await this.daemons.client(node).commit(handle, token, { replace: volume.nodes.includes(node) });
      } catch (error) {
        throw this.asRuntimeError(error, `cannot record output ${handle} on node ${node}`);
      }
      const elsewhere = volume.nodes.filter((each) => each !== node);
      volume.nodes = [node];
      volume.bytes = undefined;
      const deleteToken = this.sign(handle, volume.teamName, ['delete']);
      await Promise.all(
        elsewhere.map((other) =>
          this.daemons
            .client(other, 'oneShot')
            .delete(handle, deleteToken)
            .catch(() => undefined),
        ),
      );
    }
  }

  /** After each process of a step with outputs: sizes, and fresh mirrors (a process may have changed them). */
  async outputsSettled(handles: readonly string[]): Promise<void> {
    for (const handle of handles) {
      const volume = this.#book.get(handle);
      if (!volume || volume.nodes.length === 0) continue;
      volume.bytes = undefined;
      await this.dropMirrors(volume, volume.nodes[0] as string);
      await this.mirror(volume);
    }
  }

  /** Parses the init container's log line. */
  static inputReport(log: string): InputFetchReport | undefined {
    const line = log.split('\n').find((each) => each.includes('"jetbridgeNodeLocalInputs"'));
    if (!line) return undefined;
    try {
      return (JSON.parse(line) as { jetbridgeNodeLocalInputs: InputFetchReport }).jetbridgeNodeLocalInputs;
    } catch {
      return undefined;
    }
  }

  private mustGet(handle: string): PlacedVolume {
    const volume = this.#book.get(handle);
    if (!volume) throw new RuntimeError(`volume ${handle} does not exist`);
    return volume;
  }

  /** The first node holding the volume whose daemon answers; a RuntimeError naming the lost nodes otherwise. */
  private async readableNode(volume: PlacedVolume): Promise<string> {
    for (const node of volume.nodes) {
      if ((await this.daemons.health(node)).reachable) return node;
    }
    throw new RuntimeError(
      `artifact ${volume.handle} only lived on ${nodesText(volume.nodes)}, which ${volume.nodes.length === 1 ? 'is' : 'are'} gone (the artifact daemon does not answer)`,
    );
  }

  private async sizeOf(volume: PlacedVolume, node: string): Promise<number> {
    if (volume.bytes !== undefined) return volume.bytes;
    const stat = await this.daemons
      .client(node, 'oneShot')
      .stat(volume.handle, this.sign(volume.handle, volume.teamName, ['stat']))
      .catch(() => undefined);
    volume.bytes = stat?.bytes ?? 0;
    return volume.bytes;
  }

  /** Copies the volume to `replicas` more nodes (the roomiest ready ones), each pulling from the primary. */
  private async mirror(volume: PlacedVolume): Promise<void> {
    const wanted = this.config.replicas - (volume.nodes.length - 1);
    const primary = volume.nodes[0];
    if (wanted <= 0 || primary === undefined) return;
    const targets = (await this.daemons.ready())
      .filter((each) => !volume.nodes.includes(each.node))
      .slice(0, wanted);
    const source = {
      url: this.daemons.url(primary),
      token: this.sign(volume.handle, volume.teamName, ['get']),
    };
    const putToken = this.sign(volume.handle, volume.teamName, ['put'], volume);
    for (const target of targets) {
      try {
        await this.daemons.client(target.node, 'oneShot').pullFrom(volume.handle, putToken, source);
        volume.nodes.push(target.node);
      } catch (error) {
        this.logger.warn(
          { handle: volume.handle, node: target.node, err: (error as Error).message },
          'could not mirror an artifact',
        );
      }
    }
  }

  private async dropMirrors(volume: PlacedVolume, keep: string): Promise<void> {
    const token = this.sign(volume.handle, volume.teamName, ['delete']);
    const others = volume.nodes.filter((node) => node !== keep);
    await Promise.all(
      others.map((node) =>
        this.daemons
          .client(node, 'oneShot')
          .delete(volume.handle, token)
          .catch(() => undefined),
      ),
    );
    volume.nodes = [keep];
  }

  private asRuntimeError(error: unknown, what: string): RuntimeError {
    if (error instanceof RuntimeError) return error;
    this.daemons.invalidate();
    return new RuntimeError(`${what}: ${(error as Error).message}`, { cause: error });
  }
}
