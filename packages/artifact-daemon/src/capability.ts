import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ArtifactOwner, ArtifactType } from '@jetbridge/artifact-store';

/** What a capability lets its bearer do with one artifact (or, with handle `*`, `list`/`gc` on the daemon). */
export type CapabilityOp = 'get' | 'put' | 'delete' | 'stat' | 'list';

const OPS: readonly CapabilityOp[] = ['get', 'put', 'delete', 'stat', 'list'];

/**
 * The claims the web signs for one artifact and one step. `team` is checked against the artifact's team on
 * every read, so a token issued for team B never reads team A's artifact even if it names its handle; `owner`
 * and `type` say what a `put` creates.
 */
export interface CapabilityClaims {
  /** The artifact's handle; `*` only for `list` (the web reconciling after a restart). */
  handle: string;
  team: string;
  ops: CapabilityOp[];
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
  /** The step (container handle) it was issued to: for logs and audits, not checked. */
  step?: string;
  owner?: ArtifactOwner;
  type?: ArtifactType;
}

/** Why a capability is refused; the daemon answers 401 (missing, malformed, expired, forged) or 403 (wrong scope). */
export class CapabilityError extends Error {
  constructor(
    message: string,
    readonly httpStatus: 401 | 403,
  ) {
    super(message);
    this.name = 'CapabilityError';
  }
}

const PREFIX = 'jbcap1';
/** HMAC-SHA256 keys shorter than this are guessable; refuse them at start rather than sign with them. */
export const MIN_KEY_BYTES = 32;

/**
 * Signs and verifies capability tokens: `jbcap1.<base64url JSON claims>.<base64url HMAC-SHA256>`. The key is
 * shared by the web (which signs) and every daemon (which verifies); tokens are short-lived, so there is no
 * revocation list.
 */
export class CapabilityKey {
  readonly #key: Buffer;

  constructor(key: Buffer | string) {
    this.#key = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    if (this.#key.length < MIN_KEY_BYTES) {
      throw new Error(`the capability key must be at least ${MIN_KEY_BYTES} bytes long`);
    }
  }

  /** A token for `claims`; `ttlMs` from now when `expiresAt` is not given. */
  sign(claims: Omit<CapabilityClaims, 'expiresAt'> & { expiresAt?: number }, ttlMs = 15 * 60_000): string {
    const full: CapabilityClaims = { ...claims, expiresAt: claims.expiresAt ?? Date.now() + ttlMs };
    const payload = Buffer.from(JSON.stringify(full), 'utf8').toString('base64url');
    return `${PREFIX}.${payload}.${this.#mac(payload)}`;
  }

  /**
   * The claims of a valid, unexpired token allowing `op` on `handle`; a CapabilityError otherwise. The team
   * check against the artifact is the caller's (it has to look the artifact up first).
   */
  verify(token: string | undefined, op: CapabilityOp, handle: string, now = Date.now()): CapabilityClaims {
    if (!token) throw new CapabilityError('a capability token is required', 401);
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX)
      throw new CapabilityError('malformed capability token', 401);
    const [, payload = '', mac = ''] = parts;
    const expected = Buffer.from(this.#mac(payload), 'base64url');
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CapabilityError('invalid capability token signature', 401);
    }
    const claims = parseClaims(payload);
    if (!claims) throw new CapabilityError('malformed capability token', 401);
    if (claims.expiresAt <= now) throw new CapabilityError('the capability token has expired', 401);
    if (!claims.ops.includes(op)) {
      throw new CapabilityError(`the capability does not allow '${op}'`, 403);
    }
    if (claims.handle !== handle) {
      throw new CapabilityError(`the capability is for another artifact, not '${handle}'`, 403);
    }
    return claims;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(`${PREFIX}.${payload}`).digest('base64url');
  }
}

function parseClaims(payload: string): CapabilityClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { handle, team, ops, expiresAt, step } = record;
  if (typeof handle !== 'string' || typeof team !== 'string' || typeof expiresAt !== 'number')
    return undefined;
  if (!Array.isArray(ops) || !ops.every((op): op is CapabilityOp => OPS.includes(op as CapabilityOp))) {
    return undefined;
  }
  if (step !== undefined && typeof step !== 'string') return undefined;
  return value as CapabilityClaims;
}
