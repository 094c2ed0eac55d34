import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The state carried through the browser login form: where to go afterwards, signed with the session
 * signing key and valid for an hour (as skyserver's `signState`/`verifyState`), so the form cannot be
 * replayed later or pointed somewhere else.
 */
const MAX_AGE_SECONDS = 3600;

interface LoginStatePayload {
  redirect_uri: string;
  entropy: string;
  ts: number;
}

export function signLoginState(signingKey: Buffer, redirectUri: string, now: Date = new Date()): string {
  const payload: LoginStatePayload = {
    redirect_uri: redirectUri,
    entropy: randomBytes(16).toString('hex'),
    ts: Math.floor(now.getTime() / 1000),
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${sign(signingKey, body)}`;
}

/** The redirect URI of a genuine, fresh state; undefined otherwise. */
export function verifyLoginState(
  signingKey: Buffer,
  state: string,
  now: Date = new Date(),
): string | undefined {
  const [body, signature, extra] = state.split('.');
  if (!body || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(sign(signingKey, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!payload || typeof payload !== 'object') return undefined;
  const { redirect_uri: redirectUri, ts } = payload as Partial<LoginStatePayload>;
  if (typeof redirectUri !== 'string' || typeof ts !== 'number') return undefined;
  const age = Math.floor(now.getTime() / 1000) - ts;
  if (age < -60 || age > MAX_AGE_SECONDS) return undefined;
  return redirectUri;
}

function sign(signingKey: Buffer, body: string): string {
  return createHmac('sha256', signingKey).update(`login-state\0${body}`).digest('base64url');
}
