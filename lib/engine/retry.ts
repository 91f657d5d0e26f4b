// Retries only what is known to pass by itself (connection lost, dpkg lock held), with
// exponential backoff and jitter. Auth failures, host key problems and bad config fail at once:
// retrying them only delays the message or gets the client banned.
import pRetry from 'p-retry';
import { isTransient } from '../errors.ts';

export interface RetryOptions {
  retries: number;
  /** Called before each new attempt (attempt counts from 2). */
  onRetry?(attempt: number, of: number, error: Error): void;
  minTimeoutMs?: number;
}

export function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const of = opts.retries + 1;
  return pRetry(fn, {
    retries: opts.retries,
    factor: 2,
    minTimeout: opts.minTimeoutMs ?? minTimeoutFromEnv(),
    maxTimeout: 10_000,
    randomize: true,
    shouldRetry: ({ error }) => isTransient(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && isTransient(error)) opts.onRetry?.(attemptNumber + 1, of, error);
    },
  });
}

/** HOIST_RETRY_MIN_MS shortens the backoff in tests; anything but a number is ignored. */
function minTimeoutFromEnv(): number {
  const v = Number(process.env.HOIST_RETRY_MIN_MS);
  return process.env.HOIST_RETRY_MIN_MS && Number.isFinite(v) && v >= 0 ? v : 500;
}
