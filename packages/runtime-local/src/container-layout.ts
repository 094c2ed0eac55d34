import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';
import { copyTree } from './copy-tree.js';

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
      .map((mount) => ({ ...mount, containerPath: path.posix.resolve(workingDir, mount.path) }))
      .sort((a, b) => a.containerPath.length - b.containerPath.length);
    assertNotNested(mounts.map((mount) => mount.containerPath));

    const layout = new ContainerLayout(
      containerDir,
      workingDir,
      mounts.map((mount) => mount.containerPath),
    );
    await mkdir(layout.rootDir, { recursive: true });
    await mkdir(layout.homeDir, { recursive: true });
    for (const mount of mounts) {
      const target = layout.hostPathOf(mount.containerPath);
      await mkdir(path.dirname(target), { recursive: true });
      if (mount.readOnly && readOnlyMounts === 'copy') {
        await copyTree(mount.source, target);
      } else {
        await symlink(mount.source, target, 'dir');
      }
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

function assertNotNested(containerPaths: string[]): void {
  for (const [index, outer] of containerPaths.entries()) {
    if (outer === '/') throw new RuntimeError('the local runtime cannot mount a volume at /');
    for (const inner of containerPaths.slice(index + 1)) {
      if (isInsidePosix(outer, inner)) {
        // A symlinked mount inside another would write into the outer volume.
        throw new RuntimeError(`the local runtime cannot mount ${inner} inside the mount at ${outer}`);
      }
    }
  }
}

function isInsidePosix(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root === '/' ? '/' : `${root}/`);
}
