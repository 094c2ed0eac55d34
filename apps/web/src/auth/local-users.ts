import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { LocalUser } from '../config/index.js';

/** `$2a$`/`$2b$`/`$2y$` hashes: Concourse accepts a bcrypt hash wherever a local password goes. */
const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** A bcrypt hash of nothing anybody knows, compared against for unknown users so timing says little. */
const DUMMY_HASH = '$2b$10$PyDpxn86w3xn90ddptFXZux82Scp1TXScoHdTrtXQ49MMFwnVA20K';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The users given with `--add-local-user` (dex's local password connector). Usernames match in any
 * letter case, as dex looks them up by lowercased email; the name returned is the configured one.
 */
export class LocalUserDirectory {
  private readonly byName = new Map<string, LocalUser>();
  private readonly anyHashed: boolean;

  constructor(users: readonly LocalUser[]) {
    for (const user of users) {
      const key = user.username.toLowerCase();
      if (!this.byName.has(key)) this.byName.set(key, user);
    }
    this.anyHashed = users.some((user) => BCRYPT_HASH.test(user.password));
  }

  /** The configured user when the password is right; undefined otherwise (never says which part was wrong). */
  async verify(username: string, password: string): Promise<LocalUser | undefined> {
    const user = this.byName.get(username.toLowerCase());
    if (!user || username === '' || password === '') {
      // Cost about what a real check costs, so response time does not tell which usernames exist.
      if (this.anyHashed) await bcrypt.compare(password, DUMMY_HASH).catch(() => false);
      else timingSafeEqual(sha256(password), sha256(DUMMY_HASH));
      return undefined;
    }
    if (BCRYPT_HASH.test(user.password)) {
      const ok = await bcrypt.compare(password, user.password).catch(() => false);
      return ok ? user : undefined;
    }
    // Plain text: compare digests so neither length nor content leaks through timing.
    return timingSafeEqual(sha256(password), sha256(user.password)) ? user : undefined;
  }
}
