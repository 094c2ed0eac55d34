import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database, Kysely, TeamAuth } from '@jetbridge/db';
import type { LocalUser, WebConfig } from '../config/index.js';
import { notifyTeamsChanged } from './auth-change-listener.js';

export interface BootstrappedUsers {
  localUsers: LocalUser[];
  /** Set when JetBridge generated the user because none was configured: shown once at start. */
  generated?: LocalUser;
}

/**
 * With no `--add-local-user`, the embedded default creates one user (`admin`, random password kept in the
 * data directory so it is stable across restarts), as a laptop user expects `fly login` to just work.
 */
export async function resolveLocalUsers(config: WebConfig): Promise<BootstrappedUsers> {
  if (config.localUsers.length > 0) return { localUsers: config.localUsers };
  const file = path.join(config.dataDir, 'local-user');
  let password: string;
  if (existsSync(file)) {
    password = (await readFile(file, 'utf8')).trim();
  } else {
    password = randomBytes(12).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
  }
  const generated = { username: 'admin', password };
  return { localUsers: [generated], generated };
}

/**
 * Make the `main` team exist, flagged admin, with its owners from `--main-team-local-user` (all local users
 * when unset). As in Concourse, the flags are the source of truth for main's auth on every start.
 */
export async function bootstrapMainTeam(
  db: Kysely<Database>,
  config: WebConfig,
  localUsers: LocalUser[],
): Promise<void> {
  const owners =
    config.mainTeamLocalUsers.length > 0 ? config.mainTeamLocalUsers : localUsers.map((u) => u.username);
  const auth: TeamAuth = { owner: { users: owners.map((u) => `local:${u.toLowerCase()}`), groups: [] } };
  await db
    .insertInto('teams')
    .values({ name: 'main', auth: JSON.stringify(auth), admin: true })
    .onConflict((oc) => oc.column('name').doUpdateSet({ auth: JSON.stringify(auth), admin: true }))
    .execute();
  // Other web nodes already running may have main's previous owners cached.
  await notifyTeamsChanged(db);
}
