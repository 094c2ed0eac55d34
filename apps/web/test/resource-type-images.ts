// The built-in resource types as the "images" step pods run them from on the kube-test-server: for each, a
// directory holding /opt/resource/{check,in,out} (wrappers that run this checkout's scripts, which the pod
// sees through the host's filesystem), under the image name the Kubernetes runtime asks for
// (`concourse/<type>-resource`, as Concourse's base types).
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultBaseTypeImage } from '@jetbridge/exec';
import { BUILTIN_RESOURCE_TYPES, BUILTIN_RESOURCE_TYPES_DIR } from '@jetbridge/resource-types';

/** Image repository → its directory, made under `dir`; for the test server's `images` option. */
export async function builtinResourceTypeImages(dir: string): Promise<Record<string, string>> {
  const images: Record<string, string> = {};
  for (const type of BUILTIN_RESOURCE_TYPES) {
    const imageDir = path.join(dir, `${type}-resource-image`);
    const scripts = path.join(imageDir, 'opt', 'resource');
    await mkdir(scripts, { recursive: true });
    for (const script of ['check', 'in', 'out']) {
      const target = path.join(BUILTIN_RESOURCE_TYPES_DIR, type, script);
      await writeFile(path.join(scripts, script), `#!/bin/sh\nexec ${JSON.stringify(target)} "$@"\n`);
      await chmod(path.join(scripts, script), 0o755);
    }
    images[defaultBaseTypeImage(type)] = imageDir;
  }
  return images;
}
