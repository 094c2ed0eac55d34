import path from 'node:path';

/**
 * Where a streamed volume lives in a stream-mode pod: `relative` below `dir`, one of the pod's emptyDir mounts
 * (the workspace, or an emptyDir of its own for a path outside it). The helper's tar-in/tar-out take exactly
 * these two (`--dir`, `--path`) and never go through a symlink below `dir`, so a step cannot redirect a transfer.
 */
export interface StreamLocation {
  dir: string;
  relative: string;
}

function isWithin(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);
}

/**
 * The emptyDir mount points a stream-mode pod needs besides its workspace: every streamed path outside the
 * working directory that is not already below another of them (shallowest first).
 */
export function outsideRoots(workDir: string, containerPaths: string[]): string[] {
  const roots: string[] = [];
  const outside = containerPaths
    .filter((each) => !isWithin(workDir, each))
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  for (const candidate of outside) {
    if (!roots.some((root) => isWithin(root, candidate))) roots.push(candidate);
  }
  return roots;
}

/** The emptyDir and the path inside it of one streamed container path. */
export function streamLocation(workDir: string, containerPath: string, roots: string[]): StreamLocation {
  const root = roots.find((each) => isWithin(each, containerPath)) ?? workDir;
  const relative = path.posix.relative(root, containerPath);
  return { dir: root, relative: relative === '' ? '.' : relative };
}
