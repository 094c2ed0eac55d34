import { randomBytes } from 'node:crypto';

/**
 * The bearer token format of Concourse's skymarshal (`skymarshal/token/access_token.go`): 20 random bytes
 * followed by the expiry as a little-endian uint64 of Unix seconds, base64 (standard alphabet, no padding).
 * The token is opaque to the server (a lookup key for stored claims); `fly targets` decodes the expiry.
 */
const ENTROPY_BYTES = 20;
const TOKEN_BYTES = ENTROPY_BYTES + 8;

export function generateAccessToken(expiresAt: Date): string {
  const bytes = Buffer.alloc(TOKEN_BYTES);
  randomBytes(ENTROPY_BYTES).copy(bytes);
  bytes.writeBigUInt64LE(BigInt(Math.floor(expiresAt.getTime() / 1000)), ENTROPY_BYTES);
  return bytes.toString('base64').replace(/=+$/, '');
}

/** The expiry encoded in a token, or undefined when the text is not a token of this format. */
export function parseAccessTokenExpiry(token: string): Date | undefined {
  if (!/^[A-Za-z0-9+/]{38}$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length !== TOKEN_BYTES) return undefined;
  const seconds = bytes.readBigUInt64LE(ENTROPY_BYTES);
  if (seconds > BigInt(Number.MAX_SAFE_INTEGER) / 1000n) return undefined;
  return new Date(Number(seconds) * 1000);
}

/**
 * Split an `Authorization`-style credential (`bearer <token>`, scheme in any case) as Concourse does:
 * exactly two space-separated parts. Undefined when malformed.
 */
export function parseBearerCredential(value: string): string | undefined {
  const parts = value.split(' ');
  if (parts.length !== 2 || parts[0]?.toLowerCase() !== 'bearer' || !parts[1]) return undefined;
  return parts[1];
}
