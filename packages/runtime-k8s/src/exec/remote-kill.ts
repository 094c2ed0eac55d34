// Closing an exec socket does not kill the remote process (kubernetes-client/javascript #2532), so an abort has to
// kill it through a second exec. The first exec's command is wrapped to record its PID; the kill exec reads it.
// Both sides write their own marker before reading the other's, so a kill that races the start is never lost:
// either the kill sees the PID, or the wrapper sees the abort marker and exits before running the command.
// Needs `sh`, `kill`, `cat`, `mv`, `rm`, `sleep` in the container (the step pods' helper container has them).

/** `sh -c` body of the wrapper: $0 is the PID file, "$@" the real command (exec keeps the same PID). */
const KILLABLE_WRAPPER =
  'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && if [ -e "$0.abort" ]; then rm -f "$0" "$0.abort"; exit 143; fi; exec "$@"';

/** `sh -c` body of the kill: $0 PID file, $1 signal name, $2 grace in tenths of a second before SIGKILL. */
const KILL_SCRIPT = [
  'f="$0"; sig="$1"; grace="$2"',
  ': > "$f.abort"',
  'if [ ! -s "$f" ]; then echo not-started; exit 0; fi',
  'pid=$(cat "$f")',
  'if ! kill -"$sig" "$pid" 2>/dev/null; then rm -f "$f" "$f.abort"; echo already-exited; exit 0; fi',
  'i=0',
  'while kill -0 "$pid" 2>/dev/null; do',
  '  i=$((i+1)); if [ "$i" -gt "$grace" ]; then kill -KILL "$pid" 2>/dev/null; echo killed-hard; rm -f "$f" "$f.abort"; exit 0; fi',
  '  sleep 0.1',
  'done',
  'rm -f "$f" "$f.abort"',
  'echo killed',
].join('\n');

export type KillSignal = 'TERM' | 'KILL' | 'INT' | 'HUP';

/** What the kill exec found: the process was signalled, had already exited, or had not started (and never will). */
export type KillOutcome = 'killed' | 'killed-hard' | 'already-exited' | 'not-started';

/** Wraps `command` so that its PID lands in `pidFile` before it runs (same PID: the wrapper `exec`s it). */
export function killableCommand(command: readonly string[], pidFile: string): string[] {
  return ['sh', '-c', KILLABLE_WRAPPER, pidFile, ...command];
}

/** The kill exec's command: signal the recorded PID, escalate to SIGKILL after `graceMs`. */
export function killCommand(pidFile: string, signal: KillSignal, graceMs: number): string[] {
  return ['sh', '-c', KILL_SCRIPT, pidFile, signal, String(Math.max(1, Math.ceil(graceMs / 100)))];
}

export function parseKillOutcome(stdout: string): KillOutcome | undefined {
  const outcome = stdout.trim().split('\n').pop();
  switch (outcome) {
    case 'killed':
    case 'killed-hard':
    case 'already-exited':
    case 'not-started':
      return outcome;
    default:
      return undefined;
  }
}
