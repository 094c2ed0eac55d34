import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../api/api-error.js';
import type { Container, Pod, Volume } from '../api/types.js';
import type { SandboxMount } from './container-sandbox.js';

/**
 * Where each volume kind lives on the host:
 *   emptyDir              <stateDir>/pods/<uid>/volumes/<name>   (removed with the pod; `medium: Memory` is a plain dir)
 *   persistentVolumeClaim <stateDir>/pvcs/<namespace>/<claimName> (lives as long as the claim)
 *   hostPath              the host path itself, or below the node's own root when nodes are simulated
 * subPath mounts `<volume dir>/<subPath>`, created (root-owned, like the kubelet does) when missing.
 */
export interface VolumeLayout {
  podDir(pod: Pod): string;
  claimDir(namespace: string, claimName: string): string;
  /** The host directory behind a hostPath on the pod's node (each simulated node has its own root). */
  hostPathDir?(pod: Pod, hostPath: string): string;
}

export function validateVolumes(pod: Pod): void {
  const name = pod.metadata.name ?? '';
  const declared = new Map<string, Volume>();
  for (const volume of pod.spec.volumes ?? []) {
    if (declared.has(volume.name))
      throw ApiError.invalid('Pod', name, `spec.volumes: duplicate volume "${volume.name}"`);
    const kinds = [volume.emptyDir, volume.persistentVolumeClaim, volume.hostPath].filter(
      (kind) => kind !== undefined,
    );
    if (kinds.length !== 1) {
      throw ApiError.invalid(
        'Pod',
        name,
        `spec.volumes[${volume.name}]: the test server emulates exactly one of emptyDir, persistentVolumeClaim, hostPath`,
      );
    }
    declared.set(volume.name, volume);
  }
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const mount of container.volumeMounts ?? []) {
      if (!declared.has(mount.name)) {
        throw ApiError.invalid(
          'Pod',
          name,
          `spec.containers[${container.name}].volumeMounts: volume "${mount.name}" not found`,
        );
      }
      if (!mount.mountPath.startsWith('/')) {
        throw ApiError.invalid(
          'Pod',
          name,
          `spec.containers[${container.name}].volumeMounts.mountPath: must be absolute`,
        );
      }
      if (mount.subPath && (mount.subPath.startsWith('/') || mount.subPath.split('/').includes('..'))) {
        throw ApiError.invalid(
          'Pod',
          name,
          `spec.containers[${container.name}].volumeMounts.subPath: must be a relative path without '..'`,
        );
      }
    }
  }
}

/** The claims a pod needs that do not exist yet (a pod waits in Pending for them, as on a real cluster). */
export function claimNames(pod: Pod): string[] {
  return (pod.spec.volumes ?? []).flatMap((volume) =>
    volume.persistentVolumeClaim ? [volume.persistentVolumeClaim.claimName] : [],
  );
}

function volumeHostDir(layout: VolumeLayout, pod: Pod, volume: Volume): string {
  if (volume.persistentVolumeClaim) {
    return layout.claimDir(pod.metadata.namespace ?? 'default', volume.persistentVolumeClaim.claimName);
  }
  if (volume.hostPath) return layout.hostPathDir?.(pod, volume.hostPath.path) ?? volume.hostPath.path;
  return path.join(layout.podDir(pod), 'volumes', volume.name);
}

/** Creates the pod's volume directories (emptyDirs and claims) before any container starts. */
export async function prepareVolumes(layout: VolumeLayout, pod: Pod): Promise<void> {
  for (const volume of pod.spec.volumes ?? []) {
    if (volume.hostPath && volume.hostPath.type !== 'DirectoryOrCreate') continue;
    await mkdir(volumeHostDir(layout, pod, volume), { recursive: true });
  }
}

/** The bind mounts for one container, subPaths resolved and created. */
export async function containerMounts(
  layout: VolumeLayout,
  pod: Pod,
  container: Container,
): Promise<SandboxMount[]> {
  const volumes = new Map((pod.spec.volumes ?? []).map((volume) => [volume.name, volume]));
  const mounts: SandboxMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) continue;
    let hostPath = volumeHostDir(layout, pod, volume);
    if (mount.subPath) {
      hostPath = path.join(hostPath, mount.subPath);
      await mkdir(hostPath, { recursive: true });
    }
    mounts.push({
      hostPath,
      mountPath: mount.mountPath,
      readOnly: mount.readOnly === true || volume.persistentVolumeClaim?.readOnly === true,
    });
  }
  return mounts;
}
