/**
 * Who may call a route, declared on every route as `config: { access: … }` and enforced in one place
 * (the auth plugin). Mirrors Concourse's auth classes (`atc/wrappa/api_auth_wrappa.go`, the role map in
 * `atc/api/accessor/role_action_map.go`); see ../shared/concourse-api.md §1.1.
 */
export type TeamRole = 'owner' | 'member' | 'pipeline-operator' | 'viewer';

/** Strongest first: a role satisfies every rule that asks for itself or a weaker one. */
export const TEAM_ROLES: readonly TeamRole[] = ['owner', 'member', 'pipeline-operator', 'viewer'];

export type AccessRule =
  /**
   * Outside the API's auth: credentials are not even read (the OAuth token endpoint carries client
   * credentials in `Authorization`; the login pages read the session cookie themselves).
   */
  | { kind: 'public' }
  /** Anonymous allowed; an Authorization header that is present but invalid still gets 401. */
  | { kind: 'open' }
  /** Any valid token. */
  | { kind: 'authenticated' }
  /** A valid token with a role on at least one team (or admin). */
  | { kind: 'any-team' }
  /** A role at least `role` on the team named by the `:team_name` path parameter, or admin. */
  | { kind: 'team'; role: TeamRole }
  /** An owner of an admin team. */
  | { kind: 'admin' }
  /**
   * Read access to the build named by `:build_id`: a role on its team, or its pipeline is public and so is
   * its job (Concourse's BUILD-R, `CheckIfPrivateJobHandler`). With `allowPrivateJob` a public pipeline is
   * enough, whatever the job (BUILD-R*, `AnyJobHandler`: GetBuild, BuildResources).
   */
  | { kind: 'build-read'; allowPrivateJob?: boolean }
  /** A role at least `role` on the team of the build named by `:build_id`. */
  | { kind: 'build-write'; role: TeamRole }
  /**
   * Concourse's PIPE (`CheckPipelineAccessHandler`): the pipeline named by `:team_name`/`:pipeline_name` and
   * the query's instance vars is public, or the caller is at least a viewer of the team. The pipeline is
   * looked up first: malformed instance vars 400, missing team or pipeline 404 (empty bodies).
   */
  | { kind: 'pipeline' }
  /**
   * TEAM(role) on a pipeline that must exist and not be archived. Concourse's RejectArchived wrapper runs
   * before auth: malformed instance vars 400, missing team or pipeline 404, archived 409 `action not allowed
   * for an archived pipeline`; then the role is checked as for `team`.
   */
  | { kind: 'team-pipeline'; role: TeamRole };

export function roleAtLeast(held: TeamRole, required: TeamRole): boolean {
  return TEAM_ROLES.indexOf(held) <= TEAM_ROLES.indexOf(required);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: the app refuses to register a route without it. */
    access?: AccessRule;
  }
}
