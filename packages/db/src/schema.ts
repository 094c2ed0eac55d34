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
  pipeline_id: number | null;
  job_id: number | null;
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
