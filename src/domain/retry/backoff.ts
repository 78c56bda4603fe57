export type RetryPolicy = Readonly<{
  /** Retries after the first attempt; MAX_RETRY=5 allows 6 attempts. */
  maxRetries: number;
  minBackoffMs: number;
  maxBackoffMs: number;
}>;

/** Jitter spreads retries of tasks that failed together: the delay is the nominal one ±JITTER. */
export const JITTER = 0.2;

/** The delay before the doubling would be jittered: min·2^(retry−1), capped at max. */
export const nominalBackoffMs = (retry: number, policy: RetryPolicy): number =>
  Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** Math.max(0, retry - 1));

/**
 * Delay before retry number `retry` (1 = first retry). `random` is in [0, 1).
 * The result stays within [minBackoff, maxBackoff].
 */
export const backoffMs = (retry: number, policy: RetryPolicy, random: number): number => {
  const jittered = nominalBackoffMs(retry, policy) * (1 - JITTER + 2 * JITTER * random);
  return Math.round(Math.min(policy.maxBackoffMs, Math.max(policy.minBackoffMs, jittered)));
};
