import { chmod, lstat, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';
import { copyTree } from './copy-tree.js';
import { removeTree } from './remove-tree.js';

/**
 * How read-only (input) mounts appear: the container's own copy of the volume (reflinked where the
 * filesystem can), Concourse's copy-on-write semantics — or, opted into for speed, a symlink to the volume
 * itself, through which a process changes the artifact for every later step.
 */
export type ReadOnlyMountMode = 'symlink' | 'copy';

/** The working directory of a container whose spec names none (a task gets `/tmp/build/<hash>`). */
export const DEFAULT_WORKING_DIRECTORY = '/tmp/build/work';

export interface HostMount {
  /** The volume's content on the host. */
  source: string;
  /** The path asked for: relative to the working directory unless absolute. */
  path: string;
  readOnly: boolean;
}

/**
 * How a container's paths map onto the host. A container has no filesystem of its own here (the image is
 * ignored; executables come from the host), but its paths still behave as in Concourse: every container
 * path — the working directory (`/tmp/build/<hash>` for a task), mounts, process dirs — lives below
 * `<container>/root`, so `/tmp/build/1234abcd/repo` is `<container>/root/tmp/build/1234abcd/repo`.
 *
 *   <workDir>/containers/<handle>/
 *     home/                        HOME of every process
 *     root/tmp/build/<hash>/       the working directory
 *       repo/                                  an input: the container's own copy of its volume
 *       out  -> <workDir>/volumes/<h>/data     an output: the process writes straight into its volume
 *
 * A symlinked mount differs from a bind mount in two ways, both documented for users: `..` from a directory
 * inside it resolves physically, i.e. to the volumes directory (`cd ../other-input` still works: shells
 * track $PWD, and PWD is set; `cat ../other-input/file` from inside a mount does not), and with
 * `readOnlyMounts: 'symlink'` (an opt-in for speed) an input is such a link too, so a process writing into
 * it changes the artifact. Copied inputs (the default) have neither problem.
 */
export class ContainerLayout {
  readonly rootDir: string;
  readonly homeDir: string;
  readonly hostWorkingDir: string;

  private constructor(
    readonly containerDir: string,
    /** The working directory as the process sees it (`ContainerSpec.dir`). */
    readonly workingDir: string,
    private readonly mountPaths: string[],
  ) {
    this.rootDir = path.join(containerDir, 'root');
    this.homeDir = path.join(containerDir, 'home');
    this.hostWorkingDir = this.hostPathOf(workingDir);
  }

  /** Lay a container out on the host: directories, then each mount at its path. */
  static async create(
    containerDir: string,
    spec: { dir?: string; mounts: HostMount[] },
    readOnlyMounts: ReadOnlyMountMode,
  ): Promise<ContainerLayout> {
    const workingDir = path.posix.resolve('/', spec.dir ?? DEFAULT_WORKING_DIRECTORY);
    const mounts = spec.mounts
      .map((mount) => ({
        ...mount,
        containerPath: path.posix.resolve(workingDir, mount.path),
        copied: mount.readOnly && readOnlyMounts === 'copy',
      }))
      .sort((a, b) => a.containerPath.length - b.containerPath.length);
    assertNotNested(mounts);

    const layout = new ContainerLayout(
      containerDir,
      workingDir,
      mounts.map((mount) => mount.containerPath),
    );
    await mkdir(layout.rootDir, { recursive: true });
    await mkdir(layout.homeDir, { recursive: true });
    for (const mount of mounts) {
      const target = layout.hostPathOf(mount.containerPath);
      await makeMountPoint(layout.rootDir, target);
      if (mount.copied) await copyTree(mount.source, target);
      else await symlink(mount.source, target, 'dir');
    }
    // After the mounts: the working directory may itself be one.
    await mkdir(layout.hostWorkingDir, { recursive: true });
    return layout;
  }

  /** The host path of a container path; relative ones start at `from` (the working directory). */
  hostPathOf(containerPath: string, from: string = this.workingDir): string {
    return path.join(this.rootDir, path.posix.resolve(from, containerPath));
  }

  /**
   * The host path to execute for `executable`: a path into the working directory or a mount maps into the
   * container; any other absolute path, and bare names looked up on PATH, are the host's own.
   */
  executablePathOf(executable: string): string {
    if (!path.posix.isAbsolute(executable)) return executable;
    const normalized = path.posix.normalize(executable);
    const inContainer = [this.workingDir, ...this.mountPaths].some((root) => isInsidePosix(root, normalized));
    return inContainer ? this.hostPathOf(normalized) : executable;
  }
}

/**
 * Make `target`'s parent directories below `root`, and nothing at `target`. Inside a copied input, what the
 * copy has on the way — a file, or a symlink a step put in an artifact, which may point anywhere — is
 * replaced by a directory instead of followed: a nested mount hides the copy's content, as a bind mount would.
 */
async function makeMountPoint(root: string, target: string): Promise<void> {
  let current = root;
  for (const part of path.relative(root, path.dirname(target)).split(path.sep).filter(Boolean)) {
    const parent = current;
    current = path.join(current, part);
    const stats = await lstat(current).catch(() => undefined);
    if (stats?.isDirectory()) continue;
    await ownerWritable(parent);
    if (stats !== undefined) await removeTree(current);
    await mkdir(current);
  }
  if ((await lstat(target).catch(() => undefined)) === undefined) return;
  await ownerWritable(path.dirname(target));
  await removeTree(target);
}

/** A copied input may hold read-only directories (a tar with 0555 dirs); a mount point needs a writable one. */
async function ownerWritable(directory: string): Promise<void> {
  const { mode } = await lstat(directory);
  if ((mode & 0o200) === 0) await chmod(directory, (mode & 0o7777) | 0o200);
}

/**
 * Mounts may nest only inside a copied input (an output at `repo/dist` of an input `repo`, as Concourse
 * allows): inside a symlinked mount the inner one would be written into the outer volume.
 */
function assertNotNested(mounts: Array<{ containerPath: string; copied: boolean }>): void {
  for (const [index, outer] of mounts.entries()) {
    const outerPath = outer.containerPath;
    if (outerPath === '/') throw new RuntimeError('the local runtime cannot mount a volume at /');
    for (const { containerPath: inner } of mounts.slice(index + 1)) {
      if (inner === outerPath)
        throw new RuntimeError(`the local runtime cannot mount two volumes at ${inner}`);
      if (!outer.copied && isInsidePosix(outerPath, inner)) {
        throw new RuntimeError(`the local runtime cannot mount ${inner} inside the mount at ${outerPath}`);
      }
    }
  }
}

function isInsidePosix(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root === '/' ? '/' : `${root}/`);
}
