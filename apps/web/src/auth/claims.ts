/**
 * What a token stands for: the claims of the ID token dex would issue (concourse-api.md §5.1), stored with
 * the opaque token. Nothing about teams or admin is in here: roles are computed on every request.
 */
export interface TokenClaims {
  iss: string;
  /** dex's subject: the user id and connector id, protobuf-encoded, base64url. */
  sub: string;
  /** The OAuth client the token was issued to (`fly` for CLI logins). */
  aud: string | string[];
  exp: number;
  iat: number;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  federated_claims?: { connector_id: string; user_id: string };
}

/** The OAuth scopes a token request may ask for (dex's set, without cross-client scopes). */
export const SUPPORTED_SCOPES = [
  'openid',
  'offline_access',
  'email',
  'profile',
  'groups',
  'federated:id',
] as const;

/**
 * dex's `sub` claim: `IDTokenSubject{user_id, conn_id}` as protobuf (fields 1 and 2, both strings), base64url
 * without padding. Reproduced so `users.sub` matches what Concourse stores for the same user.
 */
export function dexSubject(userId: string, connectorId: string): string {
  const field = (tag: number, text: string): Buffer => {
    const bytes = Buffer.from(text, 'utf8');
    return Buffer.concat([Buffer.from([tag]), varint(bytes.length), bytes]);
  };
  return Buffer.concat([field(0x0a, userId), field(0x12, connectorId)]).toString('base64url');
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/**
 * The claims dex gives a user of its local password connector for the requested scopes: user id, name and
 * email are all the username (as `skymarshal/dexserver` registers local users), no preferred_username.
 */
export function localUserClaims(options: {
  username: string;
  issuer: string;
  clientId: string;
  scopes: readonly string[];
  issuedAt: Date;
  expiresAt: Date;
}): TokenClaims {
  const { username, scopes } = options;
  const claims: TokenClaims = {
    iss: options.issuer,
    sub: dexSubject(username, 'local'),
    aud: options.clientId,
    exp: Math.floor(options.expiresAt.getTime() / 1000),
    iat: Math.floor(options.issuedAt.getTime() / 1000),
  };
  if (scopes.includes('email')) {
    claims.email = username;
    claims.email_verified = true;
  }
  if (scopes.includes('profile')) claims.name = username;
  if (scopes.includes('federated:id')) claims.federated_claims = { connector_id: 'local', user_id: username };
  return claims;
}

/** Read stored claims back, tolerating anything (a row written by an older version, or by hand). */
export function readStoredClaims(raw: Record<string, unknown>): TokenClaims {
  const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
  const federated = raw.federated_claims;
  const claims: TokenClaims = {
    iss: text('iss') ?? '',
    sub: text('sub') ?? '',
    aud: typeof raw.aud === 'string' || Array.isArray(raw.aud) ? (raw.aud as string | string[]) : '',
    exp: typeof raw.exp === 'number' ? raw.exp : 0,
    iat: typeof raw.iat === 'number' ? raw.iat : 0,
  };
  const email = text('email');
  if (email !== undefined) claims.email = email;
  if (typeof raw.email_verified === 'boolean') claims.email_verified = raw.email_verified;
  const name = text('name');
  if (name !== undefined) claims.name = name;
  const preferred = text('preferred_username');
  if (preferred !== undefined) claims.preferred_username = preferred;
  if (Array.isArray(raw.groups)) claims.groups = raw.groups.filter((g): g is string => typeof g === 'string');
  if (federated && typeof federated === 'object') {
    const f = federated as Record<string, unknown>;
    claims.federated_claims = {
      connector_id: typeof f.connector_id === 'string' ? f.connector_id : '',
      user_id: typeof f.user_id === 'string' ? f.user_id : '',
    };
  }
  return claims;
}
