import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, readdirSync, readlinkSync } from 'node:fs';
import { access, mkdir, open, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * How a container's filesystem is emulated (the "choice" the test server documents):
 *
 * Every container process starts under `unshare --mount --uts` (a private mount namespace and hostname). Inside it
 * a per-container root is assembled and the process is `chroot`ed into it (`unshare --root --wd`):
 *   - the "image" is the host's own root filesystem, seen through an overlayfs (lower = host `/`, upper = a
 *     per-container directory), so the container can write anywhere and mount points such as `/workspace/x` can be
 *     created without touching the host; if overlayfs is unavailable the root is a tmpfs with read-only bind mounts
 *     of the host's top-level directories instead;
 *   - `/proc`, `/sys`, `/dev` are the host's (bind mounts), `/tmp` is a fresh tmpfs per container;
 *   - each volume mount is a bind mount of the volume's host directory (or its subPath) at the real mountPath,
 *     remounted read-only when asked.
 * Nothing is mounted in the host's namespace, so when the last process of a container exits the kernel tears the
 * whole tree down. `kubectl exec` and the exec API enter the same namespaces with `nsenter --mount --uts --root
 * --wd`. There is no PID namespace: container processes are ordinary host processes (tests can see them in /proc).
 */

/** One bind mount into the container root. */
export interface SandboxMount {
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  /** Per-container scratch directory on the host (overlay upper/work dirs and the root mount point live here). */
  stateDir: string;
  hostname: string;
  argv: string[];
  workingDir: string;
  env: Record<string, string>;
  mounts: SandboxMount[];
  /** File receiving the container's stdout and stderr (its log). */
  logFile: string;
  /** A host directory whose files are laid over the host's root (the image's own files). */
  imageLayer?: string;
}

export interface SandboxExit {
  exitCode: number;
  signal?: number;
}

export interface RunningSandbox {
  pid: number;
  startedAt: Date;
  exited: Promise<SandboxExit>;
  /**
   * Signals the container's process group. SIGKILL reaches every process in the container's mount namespace
   * too, as a container runtime's cgroup kill does: exec'd processes that left their process group (`setsid`,
   * daemons, a step supervisor) die with the container. So does everything left when its first process exits.
   */
  kill(signal: NodeJS.Signals): void;
}

export class SandboxStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxStartError';
  }
}

const READY_MARKER = '--jetbridge-sandbox-ready--\n';

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function setupScript(spec: SandboxSpec, root: string): string {
  const upper = path.join(spec.stateDir, 'upper');
  const work = path.join(spec.stateDir, 'work');
  const q = shellQuote;
  const lines = [
    'set -e',
    // Setup errors go to fd 3, which the test server reads; the container's own stderr is the log.
    'exec 4>&2 2>&3',
    `if ! mount -t overlay overlay -o lowerdir=/,upperdir=${q(upper)},workdir=${q(work)} ${q(root)}; then`,
    `  mount -t tmpfs -o mode=755 tmpfs ${q(root)}`,
    '  for entry in /*; do',
    '    name=${entry#/}',
    '    case "$name" in proc|sys|dev|tmp) continue ;; esac',
    `    if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" ${q(root)}/"$name";`,
    `    elif [ -d "$entry" ]; then mkdir ${q(root)}/"$name"; mount --rbind "$entry" ${q(root)}/"$name";`,
    `      mount -o remount,bind,ro ${q(root)}/"$name" || true; fi`,
    '  done',
    'fi',
    `mkdir -p ${q(root)}/proc ${q(root)}/sys ${q(root)}/dev ${q(root)}/tmp`,
    `mount --rbind /proc ${q(root)}/proc`,
    `mount --rbind /sys ${q(root)}/sys`,
    `mount --rbind /dev ${q(root)}/dev`,
    `mount -t tmpfs -o mode=1777 tmpfs ${q(root)}/tmp`,
  ];
  if (spec.imageLayer !== undefined) {
    // The image's files, each bound at its path over the host's (overlayfs refuses a lower layer inside `/`).
    lines.push(
      `(cd ${q(spec.imageLayer)} && find . ! -type d) | while IFS= read -r file; do`,
      '  file=${file#./}',
      `  mkdir -p ${q(root)}/"$(dirname "$file")"`,
      `  [ -e ${q(root)}/"$file" ] || : > ${q(root)}/"$file"`,
      `  mount --bind ${q(spec.imageLayer)}/"$file" ${q(root)}/"$file"`,
      'done',
    );
  }
  for (const mount of spec.mounts) {
    const target = path.posix.join(root, mount.mountPath);
    lines.push(`mkdir -p ${q(target)}`, `mount --bind ${q(mount.hostPath)} ${q(target)}`);
    if (mount.readOnly) lines.push(`mount -o remount,bind,ro ${q(target)}`);
  }
  lines.push(
    `mkdir -p ${q(path.posix.join(root, spec.workingDir))}`,
    `hostname ${q(spec.hostname)}`,
    `printf '%s' ${q(READY_MARKER)} >&3`,
    'exec 2>&4 4>&- 3>&-',
    `exec unshare --root=${q(root)} --wd=${q(spec.workingDir)} -- ${spec.argv.map(q).join(' ')}`,
  );
  return lines.join('\n');
}

/** Starts a container process in its own mount/UTS namespace; resolves once its filesystem is assembled. */
export async function startSandbox(spec: SandboxSpec): Promise<RunningSandbox> {
  const root = path.join(spec.stateDir, 'root');
  await mkdir(path.join(spec.stateDir, 'upper'), { recursive: true });
  await mkdir(path.join(spec.stateDir, 'work'), { recursive: true });
  await mkdir(root, { recursive: true });
  const log = await open(spec.logFile, 'a');
  let child: ChildProcess;
  let exited: Promise<SandboxExit>;
  let setUp: Promise<void>;
  try {
    child = spawn(
      'unshare',
      ['--mount', '--uts', '--propagation', 'private', '--', '/bin/sh', '-c', setupScript(spec, root)],
      { stdio: ['ignore', log.fd, log.fd, 'pipe'], detached: true, env: spec.env },
    );
    // Listen before anything is awaited. A short command (an init container's copy) can be over before
    // `log.close()` comes back when the thread pool is busy: 'exit' is emitted once, and on exit Node drains
    // the pipes nobody listens to — the exit would go unseen (the container "running" for ever) or the ready
    // marker dropped (the container never started).
    exited = exitOf(child);
    setUp = setupDone(child);
    setUp.catch(() => undefined); // awaited below, after the log is closed
  } finally {
    await log.close();
  }
  await setUp;
  const pid = child.pid;
  if (pid === undefined) throw new SandboxStartError('container process did not start');
  // The setup is done, but the process has yet to chroot into the root and exec the container's command; until
  // then an exec would enter the host's root. A container counts as started only once its command runs.
  await commandStarted(pid, exited);
  // The namespace is named by its inode number, which the kernel hands out again as soon as the namespace is
  // gone: holding it open keeps it (and its number) ours until the container's processes are all dead.
  const mountNamespace = mountNamespaceOf(pid);
  const namespaceHold = await open(`/proc/${pid}/ns/mnt`, 'r').catch(() => undefined);
  let namespaceHeld = namespaceHold !== undefined && mountNamespace !== undefined;
  void exited.then(async () => {
    if (namespaceHeld && mountNamespace !== undefined) killNamespace(mountNamespace);
    namespaceHeld = false;
    await namespaceHold?.close();
  });
  return {
    pid,
    startedAt: new Date(),
    exited,
    kill(signal) {
      signalGroup(pid, signal);
      if (signal === 'SIGKILL' && namespaceHeld && mountNamespace !== undefined)
        killNamespace(mountNamespace);
    },
  };
}

/** Resolves once the setup script reports the container's root assembled; rejects with its error output. */
function setupDone(child: ChildProcess): Promise<void> {
  const setupChannel = child.stdio[3] as Readable | null | undefined;
  let setupOutput = '';
  return new Promise<void>((resolve, reject) => {
    if (!setupChannel) return reject(new SandboxStartError('no setup channel'));
    setupChannel.setEncoding('utf8');
    setupChannel.on('data', (text: string) => {
      setupOutput += text;
      if (setupOutput.includes(READY_MARKER)) resolve();
    });
    setupChannel.on('close', () => {
      if (!setupOutput.includes(READY_MARKER)) {
        reject(new SandboxStartError(setupOutput.trim() || 'container setup failed'));
      }
    });
  });
}

/** The container process's exit status (128 + n for signal n, as the kubelet reports it). */
function exitOf(child: ChildProcess): Promise<SandboxExit> {
  return new Promise<SandboxExit>((resolve) => {
    child.once('exit', (code, signal) => {
      const signalNumber = signal ? signalNumberOf(signal) : undefined;
      resolve(
        signalNumber === undefined
          ? { exitCode: code ?? 1 }
          : { exitCode: 128 + signalNumber, signal: signalNumber },
      );
    });
    child.once('error', () => resolve({ exitCode: 127 }));
  });
}

/** Resolves once `pid` runs neither `unshare` nor the setup shell (or has exited). */
async function commandStarted(pid: number, exited: Promise<SandboxExit>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    // Empty while the kernel is in the middle of an execve (from `unshare --root` to the command).
    const inSetup =
      cmdline === '' || cmdline.startsWith('unshare\0') || cmdline.startsWith(`/bin/sh\0-c\0set -e\n`);
    if (!inSetup) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function mountNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** SIGKILLs every host process whose mount namespace is `namespace` (the container's "cgroup"). */
function killNamespace(namespace: string): void {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || mountNamespaceOf(pid) !== namespace) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function signalNumberOf(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 1;
}

/** Finds `executable` inside the container's root the way a container runtime resolves argv[0]. */
export async function resolveExecutable(
  pid: number,
  executable: string,
  searchPath: string,
): Promise<boolean> {
  const rootOf = `/proc/${pid}/root`;
  const candidates = executable.includes('/')
    ? [executable]
    : searchPath
        .split(':')
        .filter(Boolean)
        .map((dir) => path.posix.join(dir, executable));
  for (const candidate of candidates) {
    try {
      await access(path.join(rootOf, candidate), fsConstants.X_OK);
      return true;
    } catch {
      // try the next one
    }
  }
  return false;
}

/** Runs a command inside a running container's namespaces and root (the kubelet's exec). */
export function spawnInSandbox(
  pid: number,
  argv: string[],
  env: Record<string, string>,
  stdin: boolean,
): ChildProcess {
  return spawn('nsenter', ['--target', String(pid), '--mount', '--uts', '--root', '--wd', '--', ...argv], {
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
    env,
  });
}
