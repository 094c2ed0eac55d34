/**
 * The v4 way to end stdin: `v4.channel.k8s.io` cannot half-close, and closing the socket loses the output tail and
 * the exit status (kubernetes #89899). So make the input self-delimiting: the remote `head -c N` ends the command's
 * input after exactly N bytes. Pass `stdinIsSelfDelimiting: true` and `expect.stdinBytes: N` to execInPod with it.
 */
export function boundedStdinCommand(command: readonly string[], byteCount: number): string[] {
  if (!Number.isSafeInteger(byteCount) || byteCount < 0)
    throw new RangeError(`invalid byte count ${byteCount}`);
  return ['sh', '-c', 'head -c "$0" | "$@"', String(byteCount), ...command];
}
