// The `fly execute` flow over HTTP as a test sees it, for any runtime: input trees with awkward content,
// upload, build creation, the task config, snapshots to compare outputs byte for byte. Built on
// execute-client.ts (the wire protocol); shared by the runtime-parameterised tests.
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  authHeaders,
  createBuild,
  tarGzOf,
  uploadArtifact,
  type EnvelopeEvent,
  type TaskConfigJson,
} from './execute-client.js';

export interface BuildJson {
  id: number;
  name: string;
  status: string;
  team_name?: string;
}

/** Everything under `dir` as relative path → content (directories as null), for byte comparisons. */
export async function snapshot(dir: string, prefix = ''): Promise<Map<string, Buffer | null>> {
  const files = new Map<string, Buffer | null>();
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) {
      files.set(rel, null);
      for (const [k, v] of await snapshot(dir, rel)) files.set(k, v);
    } else {
      files.set(rel, await readFile(path.join(dir, rel)));
    }
  }
  return files;
}

/** A small tree: text, 70 kB of binary, nested directories and an executable script. */
export async function makeInputDir(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'nested', 'deeper'), { recursive: true });
  await writeFile(path.join(dir, 'hello.txt'), 'hello from the input\n');
  await writeFile(
    path.join(dir, 'nested', 'data.bin'),
    Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256)),
  );
  await writeFile(path.join(dir, 'nested', 'deeper', 'run.sh'), '#!/bin/sh\necho ran\n');
  await chmod(path.join(dir, 'nested', 'deeper', 'run.sh'), 0o755);
  return dir;
}

/** `fly execute -i`: upload `dir` as a chunked tar.gz; the artifact id. */
export async function uploadDir(url: string, token: string, dir: string, team = 'main'): Promise<number> {
  const res = await uploadArtifact(url, token, team, tarGzOf(dir));
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

export async function startBuild(url: string, token: string, plan: unknown): Promise<BuildJson> {
  const res = await createBuild(url, token, 'main', plan);
  if (res.status !== 201) throw new Error(`create build: ${res.status} ${await res.text()}`);
  return (await res.json()) as BuildJson;
}

export async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: authHeaders(token) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Build `buildId` once it has ended (succeeded, failed, errored or aborted), polled every 200 ms. */
export async function finishedBuild(
  url: string,
  token: string,
  buildId: number,
  timeoutMs = 30_000,
): Promise<BuildJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const build = await getJson<BuildJson>(`${url}/api/v1/builds/${buildId}`, token);
    if (['succeeded', 'failed', 'errored', 'aborted'].includes(build.status)) return build;
    if (Date.now() > deadline) throw new Error(`build ${buildId} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function shTask(script: string, extra: Partial<TaskConfigJson> = {}): TaskConfigJson {
  return {
    platform: 'linux',
    image_resource: { name: '', type: 'registry-image', source: { repository: 'busybox' } },
    run: { path: 'sh', args: ['-c', script] },
    ...extra,
  };
}

/** Event names, with statuses spelled out: `status started`, `log`, `finish-task`… */
export function eventTypes(events: EnvelopeEvent[]): string[] {
  return events.map((event) =>
    event.event === 'status' ? `status ${event.data['status'] as string}` : event.event,
  );
}
