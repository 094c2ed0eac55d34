import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/**
 * The database as kysely sees it. One interface per table; the migrations in `./migrations` create them.
 * Times are `timestamptz` (Date in TypeScript); the API layer turns them into Unix seconds.
 */
export interface Database {
  teams: TeamsTable;
  users: UsersTable;
  access_tokens: AccessTokensTable;
  settings: SettingsTable;
  builds: BuildsTable;
  build_events: BuildEventsTable;
  artifacts: ArtifactsTable;
  pipelines: PipelinesTable;
  jobs: JobsTable;
  job_serial_groups: JobSerialGroupsTable;
  job_inputs: JobInputsTable;
  job_outputs: JobOutputsTable;
  resources: ResourcesTable;
  resource_types: ResourceTypesTable;
  resource_configs: ResourceConfigsTable;
  resource_config_scopes: ResourceConfigScopesTable;
  resource_config_versions: ResourceConfigVersionsTable;
  resource_disabled_versions: ResourceDisabledVersionsTable;
  build_resource_config_version_inputs: BuildVersionInputsTable;
  build_resource_config_version_outputs: BuildVersionOutputsTable;
  next_build_inputs: NextBuildInputsTable;
  build_pipes: BuildPipesTable;
  next_build_pipes: NextBuildPipesTable;
}

/** Role name → who holds it, as Concourse's TeamAuth: `{ owner: { users: ['local:admin'], groups: [] } }`. */
export type TeamAuth = Record<string, { users: string[]; groups: string[] }>;

export interface TeamsTable {
  id: Generated<number>;
  name: string;
  auth: JSONColumnType<TeamAuth>;
  /** The `main` team: its owners are admins. */
  admin: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, never, never>;
}

/** Users who logged in (for `fly active-users`); local users' credentials live in configuration. */
export interface UsersTable {
  id: Generated<number>;
  sub: string;
  username: string;
  connector: string;
  last_login: ColumnType<Date, Date | undefined, Date>;
}

/** Opaque bearer tokens (Concourse's skymarshal model: the token is a lookup key for stored claims). */
export interface AccessTokensTable {
  token: string;
  sub: string;
  claims: JSONColumnType<Record<string, unknown>>;
  expires_at: Date;
  created_at: ColumnType<Date, never, never>;
}

/** Small persistent key/value state, e.g. the generated session signing key. */
export interface SettingsTable {
  key: string;
  value: string;
}

export type BuildStatus = 'pending' | 'started' | 'succeeded' | 'failed' | 'errored' | 'aborted';

export interface BuildsTable {
  id: Generated<number>;
  name: string;
  team_id: number;
  status: BuildStatus;
  /** The private plan (what the engine runs); null until planned. */
  plan: JSONColumnType<Record<string, unknown> | null, Record<string, unknown> | null | undefined>;
  /** The plan schema Concourse reports (`exec.v2`). */
  schema: ColumnType<string, string | undefined, string>;
  /** Set for job builds, check builds and pipeline one-off builds; deleting the pipeline deletes the build. */
  pipeline_id: number | null;
  /** Set for job builds (triggered, rerun or scheduler-created). */
  job_id: number | null;
  /** Set for check builds of a resource (name `check`). */
  resource_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** Set for check builds of a resource type. */
  resource_type_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** Created by a person (`fly trigger-job`, manual check), not by the scheduler or the resource scanner. */
  manually_triggered: ColumnType<boolean, boolean | undefined, boolean>;
  /**
   * The scheduler has recorded the build's inputs (build_resource_config_version_inputs); only such a
   * build can be rerun (Concourse's `inputs_ready`).
   */
  inputs_ready: ColumnType<boolean, boolean | undefined, boolean>;
  /**
   * A pending job build the scheduler let through its max-in-flight check (migration 0003): it counts as
   * running for its serial groups from then on.
   */
  scheduled: ColumnType<boolean, boolean | undefined, boolean>;
  created_by: string | null;
  comment: string | null;
  aborted: ColumnType<boolean, boolean | undefined, boolean>;
  rerun_of: number | null;
  rerun_number: number | null;
  /** Which web node runs the build, so a restarted or surviving node can tell orphans. */
  tracked_by: string | null;
  created_at: ColumnType<Date, never, never>;
  start_time: Date | null;
  end_time: Date | null;
  reap_time: Date | null;
}

/** Build events exactly as streamed: `payload` is the envelope's JSON text, replayed byte for byte. */
export interface BuildEventsTable {
  build_id: number;
  event_id: number;
  type: string;
  version: string;
  payload: string;
  created_at: ColumnType<Date, never, never>;
}

/** Artifacts known to the API (`WorkerArtifact`): uploads and `artifact_output`s, each backed by a volume. */
export interface ArtifactsTable {
  id: Generated<number>;
  volume_handle: string;
  team_id: number;
  build_id: number | null;
  name: ColumnType<string, string | undefined, string>;
  created_at: ColumnType<Date, never, never>;
}

// ---------------------------------------------------------------------------------------------------------
// Pipelines (migration 0002). JSON columns hold what the API answers with: `config` columns are Go's encoding
// of the object's config (packages/pipeline-config `toConfigJson`), so they decode back into the same typed
// config with `parsePipelineConfig`. Write JSON columns as JSON text (`JSON.stringify`): the pg driver
// would turn a bare array into a PostgreSQL array.

/** Free-form JSON as stored in a jsonb column. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A resource version: a flat map of strings (`atc.Version`). */
export type VersionJson = Record<string, string>;
/** Version metadata as the resource scripts print it. */
export type MetadataJson = Array<{ name: string; value: string }>;

/**
 * A pipeline (Concourse's `pipelines`). Identity: (team, name, instance vars). Written by `PUT P/config`
 * (and later the set_pipeline step); `version` is the optimistic lock fly sends back as
 * `X-Concourse-Config-Version`.
 */
export interface PipelinesTable {
  id: Generated<number>;
  team_id: number;
  name: string;
  /** Null for a plain pipeline; any JSON object for an instance of an instanced group. */
  instance_vars: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  /** The whole config as `GET P/config` answers it; null once archived. */
  config: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  /** Config version, from the global `config_version_seq`; 0 once archived. */
  version: ColumnType<number, number | undefined, number>;
  /** The config's `groups` (UI tabs), kept apart so the pipeline JSON survives archiving. */
  groups: ColumnType<Json[] | null, string | null | undefined, string | null>;
  display: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  user_data: ColumnType<Json | null, string | null | undefined, string | null>;
  /** New pipelines set through the API start paused; the scheduler and checker skip paused pipelines. */
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  paused_by: string | null;
  paused_at: Date | null;
  public: ColumnType<boolean, boolean | undefined, boolean>;
  /** Archived: paused, config cleared, jobs and resources inactive; builds kept. */
  archived: ColumnType<boolean, boolean | undefined, boolean>;
  /** Position among the team's pipelines (`fly order-pipelines`); instances of a name share it. */
  ordering: ColumnType<number, number | undefined, number>;
  /** Position within an instance group (`fly order-instanced-pipelines`). */
  secondary_ordering: ColumnType<number, number | undefined, number>;
  /** The job and build whose set_pipeline step last set this pipeline (null when set through the API). */
  parent_job_id: number | null;
  parent_build_id: number | null;
  last_updated: ColumnType<Date, Date | undefined, Date>;
  created_at: ColumnType<Date, never, never>;
}

/**
 * A job (Concourse's `jobs`). Rows outlive their config: a job removed from the config becomes inactive and
 * keeps its builds; re-adding it (or renaming another job to it with `old_name`) revives the row.
 */
export interface JobsTable {
  id: Generated<number>;
  pipeline_id: number;
  name: string;
  /** The job's config (Go's encoding of `atc.JobConfig`); null once the pipeline is archived. */
  config: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  /** In the pipeline's current config. Every API lookup and the scheduler only see active jobs. */
  active: ColumnType<boolean, boolean | undefined, boolean>;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  paused_by: string | null;
  paused_at: Date | null;
  public: ColumnType<boolean, boolean | undefined, boolean>;
  /** Effective limit: 1 when serial or in serial groups, else `max_in_flight`, 0 = unlimited. */
  max_in_flight: ColumnType<number, number | undefined, number>;
  disable_manual_trigger: ColumnType<boolean, boolean | undefined, boolean>;
  disable_reruns: ColumnType<boolean, boolean | undefined, boolean>;
  interruptible: ColumnType<boolean, boolean | undefined, boolean>;
  /** Names of the config groups whose job globs match this job (the Job JSON's `groups`). */
  groups: ColumnType<string[], string[] | undefined, string[]>;
  /** Some input has a version no build of this job used yet (UI hint; set by the scheduler). */
  has_new_inputs: ColumnType<boolean, boolean | undefined, boolean>;
  /** The scheduler resolved every input into next_build_inputs (GET P/jobs/:job/inputs answers 404 until then). */
  inputs_determined: ColumnType<boolean, boolean | undefined, boolean>;
  /** The number the job's next build is named after ("1", "2"…; reruns are `<n>.<m>` of their original). */
  next_build_number: ColumnType<number, number | undefined, number>;
  /** Builds before this id had their logs reaped (0 = none reaped). */
  first_logged_build_id: ColumnType<number, number | undefined, number>;
  /** Bumped whenever the job needs the scheduler's attention; the scheduler handles jobs with
   * `schedule_requested > last_scheduled` and then sets `last_scheduled` to the value it saw. */
  schedule_requested: ColumnType<Date, Date | undefined, Date>;
  last_scheduled: ColumnType<Date, Date | undefined, Date>;
  /** The scheduler's last max-in-flight check refused a pending build (BuildPreparation; migration 0003). */
  max_in_flight_reached: ColumnType<boolean, boolean | undefined, boolean>;
  /** The job's finished build (latest finished non-rerun, or its latest finished rerun); kept by triggers on
   * `builds` (migration 0007), never written by the application. */
  latest_completed_build_id: ColumnType<number | null, never, never>;
  /** The oldest pending or started build that is not a rerun of an older one; kept like the one above. */
  next_build_id: ColumnType<number | null, never, never>;
  /** The summary's inputs, `[name, resource, passed, trigger]` each, sorted by name; null when none. Written
   * with job_inputs when the config is saved (queries/job-summary-io.ts, migration 0008). */
  summary_inputs: ColumnType<Array<[string, string, string[], boolean]> | null, never, never>;
  /** The summary's outputs, `[name, resource]` each, sorted by name; null when none. Written like the above. */
  summary_outputs: ColumnType<Array<[string, string]> | null, never, never>;
}

/** Serial groups of a job (a serial job, or one with max_in_flight, is in a group named after itself). */
export interface JobSerialGroupsTable {
  job_id: number;
  serial_group: string;
}

/**
 * The get steps of a job's config (Concourse's `job_inputs`): one row per `passed` job, or one row with
 * `passed_job_id` null for an input without `passed`. `version` is the step's `version:` (`"latest"`,
 * `"every"` or a version map), null when not given. Rewritten on every save.
 */
export interface JobInputsTable {
  id: Generated<number>;
  job_id: number;
  name: string;
  resource_id: number;
  passed_job_id: number | null;
  trigger: ColumnType<boolean, boolean | undefined, boolean>;
  version: ColumnType<Json | null, string | null | undefined, string | null>;
}

/** The put steps of a job's config (Concourse's `job_outputs`). Rewritten on every save. */
export interface JobOutputsTable {
  id: Generated<number>;
  job_id: number;
  name: string;
  resource_id: number;
}

/**
 * A resource of a pipeline. `resource_config_id`/`resource_config_scope_id` are set by the checker when it
 * finds or creates the config for the current (interpolated) source, and reset to null by a save that
 * changes the type or source, so the next check starts a new version history.
 */
export interface ResourcesTable {
  id: Generated<number>;
  pipeline_id: number;
  name: string;
  type: string;
  /** The resource's config (Go's encoding of `atc.ResourceConfig`); null once the pipeline is archived. */
  config: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  /** `public: true`: version metadata is shown to everyone who can see the pipeline. */
  public: ColumnType<boolean, boolean | undefined, boolean>;
  /** The config's `check_every` (`never` or a Go duration); null = the default interval. */
  check_every: string | null;
  /** The config's `webhook_token`, uninterpolated (it may contain `((vars))`). */
  webhook_token: string | null;
  resource_config_id: number | null;
  resource_config_scope_id: number | null;
  /** The pinned version: from the config's `version:` (pinned_in_config) or `fly pin-resource`. */
  pinned_version: ColumnType<VersionJson | null, string | null | undefined, string | null>;
  pinned_in_config: ColumnType<boolean, boolean | undefined, boolean>;
  pin_comment: ColumnType<string, string | undefined, string>;
  /** The latest check build (manual or scheduled), for the Resource JSON's `build` and fly's check status. */
  last_check_build_id: number | null;
  /** Why the last check could not even start (e.g. a var that does not resolve); null when it could. */
  check_error: string | null;
}

/** A resource type of a pipeline; its image's versions live under its own scope, like a resource's. */
export interface ResourceTypesTable {
  id: Generated<number>;
  pipeline_id: number;
  name: string;
  type: string;
  /** The type's config (Go's encoding of `atc.ResourceType`); null once the pipeline is archived. */
  config: ColumnType<Record<string, Json> | null, string | null | undefined, string | null>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  resource_config_id: number | null;
  resource_config_scope_id: number | null;
  last_check_build_id: number | null;
  check_error: string | null;
}

/**
 * What a check runs against: a type and a source hash. `type_key` is the base type's name (`git`), or for a
 * custom type an identifier of its image chosen by the checker (e.g. `custom:<config id>:<version sha>`), so a
 * new image version starts a new config, as in Concourse. `source_hash` is the sha256 of the interpolated
 * source (with defaults) in canonical JSON (see `resourceConfigSourceHash`).
 */
export interface ResourceConfigsTable {
  id: Generated<number>;
  type_key: string;
  source_hash: string;
  created_at: ColumnType<Date, never, never>;
  last_referenced: ColumnType<Date, Date | undefined, Date>;
}

/**
 * Where versions live: per resource by default (`resource_id` set), or shared by every resource with the same
 * config (`resource_id` null, Concourse's global resources). Check timing is kept here, so resources sharing
 * a scope share their checks.
 */
export interface ResourceConfigScopesTable {
  id: Generated<number>;
  resource_config_id: number;
  resource_id: number | null;
  last_check_start_time: Date | null;
  last_check_end_time: Date | null;
  last_check_succeeded: boolean | null;
  /** Earliest time of the next periodic check (end of the last check + interval). */
  next_check_time: Date | null;
}

/**
 * A version of a scope. Order is `check_order` (highest = latest), never time: a check that returns at
 * least one new version renumbers everything it returned, in its order, above the current maximum.
 */
export interface ResourceConfigVersionsTable {
  id: Generated<number>;
  resource_config_scope_id: number;
  version: ColumnType<VersionJson, string, string>;
  /** `versionSha256(version)`: how inputs, outputs, pins and disabled versions refer to a version. */
  version_sha256: string;
  metadata: ColumnType<MetadataJson | null, string | null | undefined, string | null>;
  check_order: ColumnType<number, number | undefined, number>;
  created_at: ColumnType<Date, never, never>;
}

/** Versions a resource must not use (`fly disable-resource-version`), per resource, not per scope. */
export interface ResourceDisabledVersionsTable {
  resource_id: number;
  version_sha256: string;
}

/** The versions a build used as inputs; `first_occurrence` = no earlier build of the job used it for that input. */
export interface BuildVersionInputsTable {
  build_id: number;
  resource_id: number;
  version_sha256: string;
  name: string;
  first_occurrence: ColumnType<boolean, boolean | undefined, boolean>;
}

/** The versions a build produced with put steps (and, implicitly for Concourse, the inputs of a success). */
export interface BuildVersionOutputsTable {
  build_id: number;
  resource_id: number;
  version_sha256: string;
  name: string;
}

/**
 * The scheduler's current input mapping for a job's next build: a version per input, or the reason it
 * could not resolve one (`resolve_error`, version columns null).
 */
export interface NextBuildInputsTable {
  job_id: number;
  input_name: string;
  resource_id: number | null;
  version_sha256: string | null;
  first_occurrence: boolean | null;
  resolve_error: string | null;
}

/** The upstream builds whose outputs satisfied a build's `passed` inputs (migration 0003). */
export interface BuildPipesTable {
  from_build_id: number;
  to_build_id: number;
}

/** The upstream builds behind a job's next-build inputs; copied to build_pipes when a build adopts them. */
export interface NextBuildPipesTable {
  to_job_id: number;
  from_build_id: number;
}
