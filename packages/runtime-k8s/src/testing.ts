// Test support (imported as `@jetbridge/runtime-k8s/testing`): builds jetbridge-helper with the local Go
// toolchain into a cache outside the repository, keyed by the helper's sources. On the kube-test-server the
// "image" is the host's filesystem, so the init container copies the helper straight from that cache path
// (`helperBinaryPath`); on a real cluster the helper image carries it.
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The helper's Go module (packages/runtime-k8s/helper). */
export const HELPER_SOURCE_DIR = fileURLToPath(new URL('../helper/', import.meta.url));

/** The image name test pods give the init container (the test server ignores images). */
export const TEST_HELPER_IMAGE = 'jetbridge/helper:test';

export type HelperBuild = { path: string } | { skip: string };

async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const names = (await readdir(HELPER_SOURCE_DIR))
    .filter((name) => name.endsWith('.go') || name === 'go.mod')
    .sort();
  for (const name of names) {
    hash.update(name);
    hash.update(await readFile(path.join(HELPER_SOURCE_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The path of a static jetbridge-helper built from this checkout (`CGO_ENABLED=0 go build`), or why it cannot
 * be built (no Go toolchain): callers skip their Kubernetes tests with that message.
 */
export async function buildHelperBinary(): Promise<HelperBuild> {
  const cacheRoot =
    process.env.JETBRIDGE_HELPER_CACHE ?? path.join(os.homedir(), '.cache', 'jetbridge', 'helper');
  const target = path.join(cacheRoot, await sourceHash(), 'jetbridge-helper');
  try {
    await access(target);
    return { path: target };
  } catch {
    // not built yet
  }
  const go = process.env.GO ?? 'go';
  try {
    await run(go, ['version']);
  } catch {
    return {
      skip: 'Go is not installed: the Kubernetes runtime tests build jetbridge-helper with it (https://go.dev/dl); skipping',
    };
  }
  await mkdir(path.dirname(target), { recursive: true });
  // Built beside the target and renamed: parallel test workers never see half a binary.
  const temporary = `${target}.${randomUUID()}.tmp`;
  try {
    await run(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', temporary, '.'], {
      cwd: HELPER_SOURCE_DIR,
      env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    });
    await rename(temporary, target);
  } finally {
    await rm(temporary, { force: true });
  }
  return { path: target };
}
