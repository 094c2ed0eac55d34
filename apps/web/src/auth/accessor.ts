import type { TeamAuth, TeamRecord } from '@jetbridge/db';
import { TEAM_ROLES, roleAtLeast, type TeamRole } from './access-rule.js';
import type { TokenClaims } from './claims.js';

/** `GET /api/v1/user` (concourse-api.md §2.15); every field always present. */
export interface UserInfo {
  sub: string;
  name: string;
  user_id: string;
  user_name: string;
  email: string;
  is_admin: boolean;
  is_system: boolean;
  teams: Record<string, TeamRole[]>;
  connector: string;
  display_user_id: string;
}

/**
 * Who is calling and what they may do, computed once per request (Concourse's `atc/api/accessor`): the
 * token's claims, plus the caller's roles on every team, derived by matching `<connector>:<user id>`,
 * `<connector>:<user name>` and `<connector>:<group>` (any letter case) against each team's auth.
 * Admin = holds `owner` on an admin team. Read it from `request.accessor`.
 */
export class Accessor {
  /** An Authorization header or session cookie was sent (valid or not). */
  readonly hasToken: boolean;
  /** The token was valid: the caller is logged in. */
  readonly isAuthenticated: boolean;
  readonly isAdmin: boolean;
  /** Concourse's worker/TSA tokens; JetBridge issues none, so always false. */
  readonly isSystem = false;
  /** The claims of a valid token; undefined when anonymous. */
  readonly claims: TokenClaims | undefined;
  /** Team name → roles the caller holds there, strongest first (admin adds nothing here). */
  readonly teamRoles: Readonly<Record<string, TeamRole[]>>;
  private readonly teamNames: readonly string[];

  private constructor(hasToken: boolean, claims: TokenClaims | undefined, teams: readonly TeamRecord[]) {
    this.hasToken = hasToken;
    this.isAuthenticated = claims !== undefined;
    this.claims = claims;
    const roles: Record<string, TeamRole[]> = {};
    let admin = false;
    if (claims) {
      const identity = identityOf(claims);
      for (const team of teams) {
        const held = rolesOnTeam(identity, team.auth);
        if (held.length > 0) roles[team.name] = held;
        if (team.admin && held.includes('owner')) admin = true;
      }
    }
    this.teamRoles = roles;
    this.isAdmin = admin;
    this.teamNames = teams.map((team) => team.name);
  }

  /** Nobody: no credentials, or (with `hasToken`) credentials that did not verify. */
  static anonymous(hasToken = false): Accessor {
    return new Accessor(hasToken, undefined, []);
  }

  /** A caller with a verified token; `teams` is every team, to compute roles against. */
  static authenticated(claims: TokenClaims, teams: readonly TeamRecord[]): Accessor {
    return new Accessor(true, claims, teams);
  }

  /**
   * Role at least `role` on the team, or admin (Concourse's `IsAuthorized`). Team names match exactly;
   * admins pass for any name, even a team that does not exist (the handler then answers 404).
   */
  hasTeamRole(teamName: string, role: TeamRole): boolean {
    if (!this.isAuthenticated) return false;
    if (this.isAdmin) return true;
    const strongest = this.roleOn(teamName);
    return strongest !== undefined && roleAtLeast(strongest, role);
  }

  /** The strongest role held on the team (ignoring admin), if any. */
  roleOn(teamName: string): TeamRole | undefined {
    return Object.hasOwn(this.teamRoles, teamName) ? this.teamRoles[teamName]?.[0] : undefined;
  }

  /** Teams on which the caller has at least `role` (every team for admins): Concourse's `TeamNames()`. */
  visibleTeamNames(role: TeamRole = 'viewer'): string[] {
    return this.teamNames.filter((name) => this.hasTeamRole(name, role));
  }

  get sub(): string {
    return this.claims?.sub ?? '';
  }
  get connector(): string {
    return this.claims?.federated_claims?.connector_id ?? '';
  }
  get userId(): string {
    return this.claims?.federated_claims?.user_id ?? '';
  }
  get email(): string {
    return this.claims?.email ?? '';
  }
  /** `preferred_username`, else `name`: the name matched against team auth (Concourse's `userName()`). */
  get userName(): string {
    return this.claims?.preferred_username || this.claims?.name || '';
  }

  /**
   * The id shown as `created_by`/`paused_by`: preferred_username, else user id, else name (Concourse's
   * default display-user-id rule).
   */
  get displayUserId(): string {
    return displayUserIdOf(this.claims);
  }

  userInfo(): UserInfo {
    return {
      sub: this.sub,
      name: this.claims?.name ?? '',
      user_id: this.userId,
      user_name: this.claims?.preferred_username ?? '',
      email: this.email,
      is_admin: this.isAdmin,
      is_system: this.isSystem,
      teams: { ...this.teamRoles },
      connector: this.connector,
      display_user_id: this.displayUserId,
    };
  }
}

/** Default display-user-id rule of skymarshal: preferred_username, else user id, else name. */
export function displayUserIdOf(claims: TokenClaims | undefined): string {
  if (!claims) return '';
  return claims.preferred_username || claims.federated_claims?.user_id || claims.name || '';
}

interface Identity {
  userId: string;
  userName: string;
  groups: string[];
}

function identityOf(claims: TokenClaims): Identity {
  let connector = claims.federated_claims?.connector_id ?? '';
  if (connector.toLowerCase() === 'cloudfoundry') connector = 'cf';
  const userId = claims.federated_claims?.user_id ?? '';
  const userName = claims.preferred_username || claims.name || '';
  return {
    userId: userId ? `${connector}:${userId}`.toLowerCase() : '',
    userName: userName ? `${connector}:${userName}`.toLowerCase() : '',
    groups: (claims.groups ?? []).filter((g) => g !== '').map((g) => `${connector}:${g}`.toLowerCase()),
  };
}

/** Roles of a (verified) caller on one team, strongest first. Unknown role names grant nothing. */
function rolesOnTeam(identity: Identity, auth: TeamAuth): TeamRole[] {
  return TEAM_ROLES.filter((role) => {
    const entry = Object.hasOwn(auth, role) ? auth[role] : undefined;
    if (!entry) return false;
    const users = Array.isArray(entry.users) ? entry.users : [];
    const groups = Array.isArray(entry.groups) ? entry.groups : [];
    // Concourse's legacy allow-all: a role with neither users nor groups holds every authenticated user.
    if (users.length === 0 && groups.length === 0) return true;
    const isUser = users.some((u) => {
      const wanted = String(u).toLowerCase();
      return (
        (identity.userId !== '' && wanted === identity.userId) ||
        (identity.userName !== '' && wanted === identity.userName)
      );
    });
    return isUser || groups.some((g) => identity.groups.includes(String(g).toLowerCase()));
  });
}
