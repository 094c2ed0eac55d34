// Concourse's RetryableSecrets (atc/creds/retryable_secrets.go): a lookup that fails because the secret store
// could not be reached is tried again, `attempts` times in all with `intervalMs` between; the last failure says
// how many tries it took. Answers (found or not) and other failures return at once.
import type { CredentialManager, SecretLookupContext } from './credential-manager.js';

/** Concourse's `--secret-retry-attempts` and `--secret-retry-interval` defaults. */
export const DEFAULT_SECRET_RETRY = { attempts: 5, intervalMs: 1000 } as const;

export interface SecretRetryOptions {
  attempts: number;
  intervalMs: number;
}

/** An error a credential manager marks as worth retrying (`retryable: true`). */
function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

export class RetryingCredentialManager implements CredentialManager {
  constructor(
    private readonly inner: CredentialManager,
    private readonly options: SecretRetryOptions = DEFAULT_SECRET_RETRY,
  ) {}

  async lookup(context: SecretLookupContext, name: string): Promise<{ value: unknown } | undefined> {
    for (let attempt = 1; attempt < this.options.attempts; attempt += 1) {
      try {
        return await this.inner.lookup(context, name);
      } catch (error) {
        if (!isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.options.intervalMs));
      }
    }
    try {
      return await this.inner.lookup(context, name);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      throw new Error(`${(error as Error).message} (after ${this.options.attempts} retries)`);
    }
  }
}
