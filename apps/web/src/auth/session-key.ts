import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { getOrCreateSetting, type Database, type Kysely } from '@jetbridge/db';

const SETTING_KEY = 'session_signing_key';

/**
 * The key that signs browser-login state and derives CSRF tokens (Concourse's `--session-signing-key`).
 * From the configured file when given (its bytes are the key); otherwise generated once and kept in the
 * database, so restarts and every web node share it.
 */
export async function loadSessionSigningKey(
  db: Kysely<Database>,
  keyFile: string | undefined,
): Promise<Buffer> {
  if (keyFile) {
    const key = await readFile(keyFile);
    if (key.length < 32) throw new Error(`--session-signing-key file ${keyFile} holds fewer than 32 bytes`);
    return key;
  }
  const stored = await getOrCreateSetting(db, SETTING_KEY, randomBytes(32).toString('hex'));
  return Buffer.from(stored, 'hex');
}
