import { constants } from 'node:fs';
import { cp, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';

/** How read-only mounts appear: a symlink to the volume (fast), or a copy (reflinked where the filesystem can). */
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
 *       repo -> <workDir>/volumes/<h>/data     an input (symlink, or a copy with readOnlyMounts: 'copy')
 *       out  -> <workDir>/volumes/<h>/data     an output: the process writes straight into its volume
 *
 * A symlinked mount differs from a bind mount in two ways, both documented for users: a process can write
 * into a read-only mount (and so into its volume), and `..` from a directory inside a mount resolves
 * physically, i.e. to the volumes directory (`cd ../other-input` still works: shells track $PWD, and PWD is
 * set; `cat ../other-input/file` from inside a mount does not). `readOnlyMounts: 'copy'` avoids both for inputs.
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
        await cp(mount.source, target, {
          recursive: true,
          verbatimSymlinks: true,
          preserveTimestamps: true,
          mode: constants.COPYFILE_FICLONE,
        });
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
