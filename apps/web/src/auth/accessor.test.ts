import { describe, expect, it } from '@jest/globals';
import type { TeamRecord } from '@jetbridge/db';
import { Accessor } from './accessor.js';
import { dexSubject, localUserClaims, type TokenClaims } from './claims.js';

const now = new Date();
const later = new Date(now.getTime() + 3_600_000);
const FLY_SCOPES = ['openid', 'profile', 'email', 'federated:id', 'groups'];

function local(username: string, scopes = FLY_SCOPES): TokenClaims {
  return localUserClaims({
    username,
    issuer: 'http://ci/sky/issuer',
    clientId: 'fly',
    scopes,
    issuedAt: now,
    expiresAt: later,
  });
}

let nextId = 1;
function team(name: string, auth: TeamRecord['auth'], admin = false): TeamRecord {
  return { id: nextId++, name, auth, admin };
}

const teams = [
  team('main', { owner: { users: ['local:admin'], groups: [] } }, true),
  team('dev', {
    owner: { users: ['local:Alice'], groups: [] },
    viewer: { users: ['local:bob'], groups: ['github:org:devs'] },
  }),
  team('ops', { member: { users: [], groups: ['cf:ops'] } }),
  team('everyone', { viewer: { users: [], groups: [] } }),
];

describe('Accessor', () => {
  it('computes roles per team by matching connector:user in any letter case', () => {
    const alice = Accessor.authenticated(local('alice'), teams);
    expect(alice.teamRoles).toEqual({ dev: ['owner'], everyone: ['viewer'] });
    expect(alice.isAdmin).toBe(false);
    expect(alice.hasTeamRole('dev', 'owner')).toBe(true);
    expect(alice.hasTeamRole('dev', 'viewer')).toBe(true);
    expect(alice.hasTeamRole('main', 'viewer')).toBe(false);
    expect(alice.hasTeamRole('everyone', 'member')).toBe(false);
    expect(alice.visibleTeamNames()).toEqual(['dev', 'everyone']);
  });

  it('makes owners of an admin team admins, who pass every team check', () => {
    const admin = Accessor.authenticated(local('admin'), teams);
    expect(admin.isAdmin).toBe(true);
    expect(admin.teamRoles).toEqual({ main: ['owner'], everyone: ['viewer'] });
    expect(admin.hasTeamRole('dev', 'owner')).toBe(true);
    expect(admin.hasTeamRole('no-such-team', 'owner')).toBe(true);
    expect(admin.visibleTeamNames()).toEqual(['main', 'dev', 'ops', 'everyone']);
  });

  it('matches groups with the connector prefix, cloudfoundry as cf', () => {
    const claims: TokenClaims = {
      ...local('carol'),
      groups: ['ops'],
      federated_claims: { connector_id: 'cloudfoundry', user_id: 'c-1' },
    };
    expect(Accessor.authenticated(claims, teams).teamRoles).toEqual({
      ops: ['member'],
      everyone: ['viewer'],
    });
    const github: TokenClaims = {
      ...local('dave'),
      groups: ['ORG:devs'],
      federated_claims: { connector_id: 'github', user_id: '7' },
    };
    expect(Accessor.authenticated(github, teams).roleOn('dev')).toBe('viewer');
  });

  it('matches by name when the token has no federated claims', () => {
    const claims = local('bob', ['openid', 'profile']);
    // Without federated:id there is no connector, so `:bob` matches nothing but the allow-all team.
    expect(Accessor.authenticated(claims, teams).teamRoles).toEqual({ everyone: ['viewer'] });
  });

  it('gives anonymous callers nothing, not even allow-all teams', () => {
    const anonymous = Accessor.anonymous();
    expect(anonymous.isAuthenticated).toBe(false);
    expect(anonymous.hasToken).toBe(false);
    expect(anonymous.teamRoles).toEqual({});
    expect(anonymous.hasTeamRole('everyone', 'viewer')).toBe(false);
    expect(Accessor.anonymous(true).hasToken).toBe(true);
  });

  it('presents UserInfo as Concourse does for a local user', () => {
    const info = Accessor.authenticated(local('alice'), teams).userInfo();
    expect(info).toEqual({
      sub: dexSubject('alice', 'local'),
      name: 'alice',
      user_id: 'alice',
      user_name: '',
      email: 'alice',
      is_admin: false,
      is_system: false,
      teams: { dev: ['owner'], everyone: ['viewer'] },
      connector: 'local',
      display_user_id: 'alice',
    });
  });
});

describe('dexSubject', () => {
  it('is the protobuf IDTokenSubject{user_id, conn_id} in unpadded base64url', () => {
    const expected = Buffer.concat([
      Buffer.from([0x0a, 5]),
      Buffer.from('admin'),
      Buffer.from([0x12, 5]),
      Buffer.from('local'),
    ]);
    expect(dexSubject('admin', 'local')).toBe(expected.toString('base64url'));
    expect(dexSubject('admin', 'local')).toBe('CgVhZG1pbhIFbG9jYWw');
  });
});
