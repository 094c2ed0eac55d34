// @jetbridge/db: the PostgreSQL schema, migrations, the embedded server, and queries.
export type * from './schema.js';
export { connectDatabase, waitForDatabase, type PostgresConnection, type DatabaseHandle } from './connect.js';
export { migrateToLatest, MigrationError } from './migrate.js';
export { migrations } from './migrations/index.js';
export {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from './embedded-postgres.js';
export { sql, type Kysely, type Transaction } from 'kysely';
export {
  allocateBuildId,
  createStartedOneOffBuild,
  findBuild,
  finishBuild,
  markBuildAborted,
  setBuildComment,
  listUnfinishedBuilds,
  listAbortRequested,
  listBuilds,
  isFinishedStatus,
  FINISHED_BUILD_STATUSES,
  InvalidPageError,
  type BuildRecord,
  type NewOneOffBuild,
  type BuildPage,
  type BuildsPage,
} from './queries/builds.js';
export { insertBuildEvents, listBuildEvents, nextBuildEventId, type StoredBuildEvent } from './queries/build-events.js';
export {
  createUploadedArtifact,
  findArtifact,
  registerBuildOutputArtifact,
  listBuildArtifacts,
  type ArtifactRecord,
} from './queries/artifacts.js';
export {
  listTeams,
  findTeamByName,
  createTeam,
  updateTeamAuth,
  renameTeam,
  deleteTeam,
  findBuildTeam,
  type TeamRecord,
  type RenameTeamResult,
} from './queries/teams.js';
export { recordUserLogin, listUsers, type UserRecord } from './queries/users.js';
export {
  insertAccessToken,
  findAccessToken,
  deleteAccessToken,
  deleteExpiredAccessTokens,
  type AccessTokenRecord,
} from './queries/access-tokens.js';
export { getSetting, getOrCreateSetting, putSetting } from './queries/settings.js';
