// Helpers for this package's tests: a real LocalWorker in a temporary directory, the real resource types
// (built-ins plus a directory for test-made ones), real tar streams, an in-memory artifact catalog, and a sink
// that records events.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Plan, TaskConfig, TaskPlan } from '@jetbridge/plan';
import type { Volume } from '@jetbridge/runtime';
import { LocalResourceTypeResolver } from '@jetbridge/resource-types';
import { LocalWorker } from '@jetbridge/runtime-local';
import type { ArtifactCatalog } from './artifact-catalog.js';
import type { BuildEvent, BuildEventSink } from './events.js';
import { runBuild, type BuildOutcome, type RunBuildOptions } from './run-build.js';

export class RecordingSink implements BuildEventSink {
  readonly events: BuildEvent[] = [];
  private waiters: Array<() => void> = [];

  emit(event: BuildEvent): void {
    this.events.push(event);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once an event matching `predicate` has been emitted. */
  async waitFor(predicate: (event: BuildEvent) => boolean, timeoutMs = 20_000): Promise<BuildEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for an event');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** `event` names with their origin plan id, e.g. `start-task:4`, in order. */
  trail(): string[] {
    return this.events.map(
      (e) => `${e.event}:${String((e.data['origin'] as { id?: string } | undefined)?.id ?? '')}`,
    );
  }

  /** All log payloads of a plan id (and stream), concatenated. */
  logOf(planId: string, source?: 'stdout' | 'stderr'): string {
    return this.events
      .filter((e) => e.event === 'log')
      .filter((e) => {
        const origin = e.data['origin'] as { id: string; source: string };
        return origin.id === planId && (source === undefined || origin.source === source);
      })
      .map((e) => String(e.data['payload']))
      .join('');
  }

  errorsOf(planId: string): string[] {
    return this.events
      .filter((e) => e.event === 'error' && (e.data['origin'] as { id: string }).id === planId)
      .map((e) => String(e.data['message']));
  }
}

/** The web layer's artifact table, in memory: artifacts by id with their team. */
export class MemoryArtifactCatalog implements ArtifactCatalog {
  readonly uploads = new Map<number, { teamName: string; volumeHandle: string }>();
  readonly outputs: Array<{ buildId: number; name: string; volumeHandle: string }> = [];

  async lookupArtifact(artifactId: number, teamName: string): Promise<{ volumeHandle: string } | undefined> {
    const upload = this.uploads.get(artifactId);
    return upload !== undefined && upload.teamName === teamName
      ? { volumeHandle: upload.volumeHandle }
      : undefined;
  }

  async registerOutput(output: { buildId: number; name: string; volumeHandle: string }): Promise<void> {
    this.outputs.push(output);
  }
}

export interface TestWorld {
  worker: LocalWorker;
  catalog: MemoryArtifactCatalog;
  dir: string;
  /** Built-in types, then `<dir>/resource-types/<type>` (see {@link addResourceType}). */
  resourceTypes: LocalResourceTypeResolver;
  close(): Promise<void>;
}

export async function startWorld(): Promise<TestWorld> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-exec-'));
  const worker = await LocalWorker.create({
    workDir: path.join(dir, 'worker'),
    name: 'local-test',
    terminateGraceMs: 1000,
  });
  const resourceTypesDir = path.join(dir, 'resource-types');
  await mkdir(resourceTypesDir);
  return {
    worker,
    catalog: new MemoryArtifactCatalog(),
    dir,
    resourceTypes: new LocalResourceTypeResolver({ directory: resourceTypesDir }),
    close: async () => {
      await worker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A resource type made of shell scripts in the world's resource type directory, e.g.
 * `{ in: 'cat > request.json; echo {"version":{"v":"1"}}' }`; each script runs under `sh -e`.
 */
export async function addResourceType(
  world: TestWorld,
  type: string,
  scripts: Partial<Record<'check' | 'in' | 'out', string>>,
): Promise<void> {
  const dir = path.join(world.dir, 'resource-types', type);
  await mkdir(dir, { recursive: true });
  for (const [name, script] of Object.entries(scripts)) {
    await writeFile(path.join(dir, name), `#!/bin/sh\nset -e\n${script}\n`);
    await chmod(path.join(dir, name), 0o755);
  }
}

/**
 * Run a plan on the world's worker as build 42 of team "main", recording events. The world's resource types
 * are used unless `options` sets `resourceTypes` (to undefined, for none).
 */
export async function run(
  world: TestWorld,
  plan: Plan,
  options: Partial<RunBuildOptions> = {},
): Promise<{ outcome: BuildOutcome; sink: RecordingSink }> {
  const sink = options.events instanceof RecordingSink ? options.events : new RecordingSink();
  const outcome = await runBuild({
    plan,
    worker: world.worker,
    build: { id: 42, name: '42', teamName: 'main' },
    artifacts: world.catalog,
    resourceTypes: world.resourceTypes,
    ...options,
    events: sink,
  });
  return { outcome, sink };
}

/** An uploaded artifact (like `fly execute -i`) holding `files`, registered in the catalog under `id`. */
export async function uploadArtifact(
  world: TestWorld,
  id: number,
  files: Record<string, string>,
  teamName = 'main',
): Promise<Volume> {
  const volume = await world.worker.createVolume({
    owner: { kind: 'upload', teamName },
    teamName,
    type: 'artifact',
  });
  await volume.streamIn('.', await tarOf(files));
  world.catalog.uploads.set(id, { teamName, volumeHandle: volume.handle });
  return volume;
}

export async function tarOf(files: Record<string, string>): Promise<Readable> {
  const pack = tarStream.pack();
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name, type: 'file', mode: 0o644 }, content, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  return Readable.from(pack, { objectMode: false });
}

/** The regular files of a volume, by path. */
export async function filesOf(volume: Volume): Promise<Record<string, string>> {
  const extract = tarStream.extract();
  (await volume.streamOut('.')).pipe(extract);
  const files: Record<string, string> = {};
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file') files[entry.header.name] = Buffer.concat(chunks).toString('utf8');
  }
  return files;
}

/** A task plan node running `sh -c script` on linux. */
export function shTask(
  id: string,
  script: string,
  config: Partial<TaskConfig> = {},
  step: Partial<TaskPlan> = {},
): Plan {
  return {
    id,
    task: {
      name: id,
      privileged: false,
      hermetic: false,
      config: { platform: 'linux', run: { path: 'sh', args: ['-c', script] }, ...config },
      ...step,
    },
  };
}

/** Whether a host process still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
