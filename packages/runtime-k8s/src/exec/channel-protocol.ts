// The Kubernetes channel protocol for exec over WebSocket (`v4.channel.k8s.io`, `v5.channel.k8s.io`): every binary
// message starts with a channel byte. v5 adds the CLOSE channel, which lets a client half-close stdin.

export const STDIN_CHANNEL = 0;
export const STDOUT_CHANNEL = 1;
export const STDERR_CHANNEL = 2;
/** Carries the v1 Status JSON that ends a session: the only trustworthy exit status. */
export const STATUS_CHANNEL = 3;
export const RESIZE_CHANNEL = 4;
/** v5 only: `[255, <channel>]` closes that channel (stdin's end-of-file). */
export const CLOSE_CHANNEL = 255;

export const V5_PROTOCOL = 'v5.channel.k8s.io';
export const V4_PROTOCOL = 'v4.channel.k8s.io';

export type ExecProtocol = 'v5' | 'v4';

export function protocolName(protocol: ExecProtocol): string {
  return protocol === 'v5' ? V5_PROTOCOL : V4_PROTOCOL;
}

export function protocolOf(name: string): ExecProtocol | undefined {
  if (name === V5_PROTOCOL) return 'v5';
  if (name === V4_PROTOCOL) return 'v4';
  return undefined;
}

export function encodeFrame(channel: number, payload?: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe((payload?.length ?? 0) + 1);
  frame[0] = channel;
  if (payload) frame.set(payload, 1);
  return frame;
}

/** The end of a session as the status channel reports it. */
export type ExecStatus =
  { kind: 'exited'; exitCode: number } | { kind: 'failed'; reason: string; message: string; code?: number };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses the channel-3 payload: `{"status":"Success"}` → exit 0; `{"status":"Failure","reason":"NonZeroExitCode",
 * "details":{"causes":[{"reason":"ExitCode","message":"3"}]}}` → exit 3; any other Failure (executable not found,
 * container gone…) → failed with the server's message.
 */
export function parseStatus(payload: Buffer): ExecStatus {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return {
      kind: 'failed',
      reason: 'MalformedStatus',
      message: `unparseable status frame: ${payload.toString('utf8').slice(0, 200)}`,
    };
  }
  if (!isRecord(parsed))
    return { kind: 'failed', reason: 'MalformedStatus', message: 'status frame is not an object' };
  if (parsed.status === 'Success') return { kind: 'exited', exitCode: 0 };
  const message = typeof parsed.message === 'string' ? parsed.message : 'exec failed';
  const reason = typeof parsed.reason === 'string' ? parsed.reason : 'Unknown';
  if (reason === 'NonZeroExitCode' && isRecord(parsed.details) && Array.isArray(parsed.details.causes)) {
    for (const cause of parsed.details.causes) {
      if (isRecord(cause) && cause.reason === 'ExitCode' && typeof cause.message === 'string') {
        const exitCode = Number.parseInt(cause.message, 10);
        if (Number.isInteger(exitCode)) return { kind: 'exited', exitCode };
      }
    }
  }
  const failure: ExecStatus = { kind: 'failed', reason, message };
  if (typeof parsed.code === 'number') failure.code = parsed.code;
  return failure;
}
