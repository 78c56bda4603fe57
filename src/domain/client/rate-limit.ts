/** Enqueues are counted over a sliding window of this length (a tier's limit is per minute). */
export const RATE_WINDOW_MS = 60_000;

/**
 * The sliding-window log's answer for `requested` tasks. `resetMs`: when the oldest task in the window leaves it
 * (one more fits from then on); `retryAfterMs`: when enough have left for the refused tasks to fit, or null when
 * they never can (more tasks than the limit in one call).
 */
export type QuotaDecision =
  | Readonly<{ allowed: true; limit: number; remaining: number; resetMs: number }>
  | Readonly<{ allowed: false; limit: number; remaining: number; retryAfterMs: number | null }>;

/** Whole seconds, rounded up so that a client waiting that long is not refused again; at least 1. */
export const secondsUntil = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * The headers of the IETF draft (draft-ietf-httpapi-ratelimit-headers): the policy, and the state after this call;
 * plus Retry-After on a refusal that waiting can cure.
 */
export const rateLimitHeaders = (d: QuotaDecision): Record<string, string> => {
  const reset = d.allowed ? secondsUntil(d.resetMs) : secondsUntil(d.retryAfterMs ?? RATE_WINDOW_MS);
  return {
    'RateLimit-Policy': `${d.limit};w=${RATE_WINDOW_MS / 1000}`,
    RateLimit: `limit=${d.limit}, remaining=${d.remaining}, reset=${reset}`,
    ...(!d.allowed && d.retryAfterMs !== null ? { 'Retry-After': String(secondsUntil(d.retryAfterMs)) } : {}),
  };
};

export const refusalMessage = (d: QuotaDecision & { allowed: false }, requested: number, tier: string): string =>
  d.retryAfterMs === null
    ? `${requested} tasks in one call exceed the ${tier} tier's limit of ${d.limit} per minute: ` +
      `split the batch into calls of at most ${d.limit} tasks`
    : `rate limit of the ${tier} tier (${d.limit} tasks per minute) reached: ${d.remaining} left in the window, ` +
      `${requested} asked for; retry after ${secondsUntil(d.retryAfterMs)} s`;
