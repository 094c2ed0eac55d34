/**
 * Which failed API calls are worth repeating, and how long to wait between tries. Real API servers answer
 * 429 (throttling, with Retry-After), 500/502/503/504 (etcd timeouts, apiserver restarts behind a load
 * balancer) and drop connections for seconds at a time; none of that says anything about the request itself.
 */
export interface RetryPolicy {
  /** Give up once this long has passed since the first try (0: never retry). */
  budgetMs: number;
  /** The first backoff; each later one doubles, up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Overridable for tests and for operators whose API server takes longer to come back. */
export const RETRY_BUDGET_ENV = 'JETBRIDGE_KUBE_API_RETRY_BUDGET_MS';

/**
 * The policy of the runtime's API calls: a budget of `budgetMs` when given (the web's
 * `--kubernetes-api-retry-budget`), else of RETRY_BUDGET_ENV's milliseconds when set, else 30 s.
 */
export function defaultRetryPolicy(env: NodeJS.ProcessEnv = process.env, budgetMs?: number): RetryPolicy {
  const fromEnv = Number(env[RETRY_BUDGET_ENV]);
  const envBudgetMs =
    env[RETRY_BUDGET_ENV] !== undefined && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 30_000;
  return { budgetMs: budgetMs ?? envBudgetMs, initialDelayMs: 200, maxDelayMs: 5_000 };
}

/** HTTP statuses that describe the server's state, not the request's. */
const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Whether an answer (or its absence: status 0 with reason ConnectionFailed) may be retried. Every call we
 * make is safe to repeat: reads and deletes are idempotent, merge patches set fixed values, and creates use
 * fixed names, so a create that landed before its answer was lost comes back as 409 AlreadyExists, never as a
 * second object (PodClient.create resolves that case).
 */
export function isTransient(httpStatus: number, reason: string): boolean {
  if (httpStatus === 0) return reason === 'ConnectionFailed';
  return TRANSIENT_STATUSES.has(httpStatus);
}

/** The wait before try number `attempt + 1` (attempt counts from 1), with jitter so many clients spread out. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** A Retry-After header as milliseconds (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
