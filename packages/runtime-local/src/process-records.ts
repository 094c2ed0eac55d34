// Step processes outlive a server killed with SIGKILL: each runs in a process group of its own (see
// LocalProcess), so nothing takes them down with the server. Each container therefore records its process
// groups in its directory, and a worker opening a work directory kills the groups the previous run left
// before it removes their containers. A group is only killed while it is provably the recorded one: its
// leader has the recorded start time (a reused pid has another), or its leader is gone and the group lives on
// (an id of a living group is never given to a new process).
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';

const RECORD_FILE = 'process-groups';

/** The leader's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined without /proc. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after `(comm)`, which may hold spaces: state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Note that `pgid` (a process just started in `containerDir`'s container) is this container's. */
export async function recordProcessGroup(containerDir: string, pgid: number): Promise<void> {
  const startTime = (await startTimeOf(pgid)) ?? '-';
  await appendFile(path.join(containerDir, RECORD_FILE), `${pgid} ${startTime}\n`);
}

/**
 * SIGKILL the process groups recorded in `containerDir` that still run and are still the recorded ones.
 * Returns the groups killed. Without /proc (not Linux) a group whose leader lives cannot be told from a
 * reused pid and is left alone.
 */
export async function killRecordedProcessGroups(containerDir: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(path.join(containerDir, RECORD_FILE), 'utf8');
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const line of text.split('\n')) {
    const [pgidText, recordedStart] = line.trim().split(' ');
    const pgid = Number(pgidText);
    if (!Number.isInteger(pgid) || pgid <= 1 || !groupExists(pgid)) continue;
    const leaderStart = await startTimeOf(pgid);
    const leaderAlive = leaderStart !== undefined || isAlive(pgid);
    if (leaderAlive && (recordedStart === '-' || leaderStart !== recordedStart)) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
      killed.push(pgid);
    } catch {
      // Ended meanwhile.
    }
  }
  return killed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
