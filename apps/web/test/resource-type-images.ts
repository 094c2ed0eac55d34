// The built-in resource types as the "images" step pods run them from on the kube-test-server: for each, a
// directory holding /opt/resource/{check,in,out} and the /opt/lib they import — copies of this checkout's
// scripts, not references to it: a pod gets a /tmp of its own, so a checkout under /tmp is out of its sight.
// Named as the Kubernetes runtime asks for them (`concourse/<type>-resource`, as Concourse's base types).
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { defaultBaseTypeImage } from '@jetbridge/exec';
import { BUILTIN_RESOURCE_TYPES, BUILTIN_RESOURCE_TYPES_DIR } from '@jetbridge/resource-types';

/** Image repository → its directory, made under `dir`; for the test server's `images` option. */
export async function builtinResourceTypeImages(dir: string): Promise<Record<string, string>> {
  const images: Record<string, string> = {};
  for (const type of BUILTIN_RESOURCE_TYPES) {
    const imageDir = path.join(dir, `${type}-resource-image`);
    await mkdir(path.join(imageDir, 'opt'), { recursive: true });
    // The scripts import `../lib/<type>.js`: /opt/resource next to /opt/lib keeps that path.
    await cp(path.join(BUILTIN_RESOURCE_TYPES_DIR, type), path.join(imageDir, 'opt', 'resource'), {
      recursive: true,
    });
    await cp(path.join(BUILTIN_RESOURCE_TYPES_DIR, 'lib'), path.join(imageDir, 'opt', 'lib'), {
      recursive: true,
    });
    images[defaultBaseTypeImage(type)] = imageDir;
  }
  return images;
}
