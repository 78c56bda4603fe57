import type { FastifyRequest } from 'fastify';
import type { RateLimiter } from '../adapters/redis/rate-limiter.ts';
import { rateLimitHeaders, refusalMessage } from '../domain/client/rate-limit.ts';
import type { Tiers } from '../domain/client/tier.ts';
import { principalOf } from './auth.ts';
import type { ErrorBody } from './errors.ts';

export type QuotaOutcome =
  | Readonly<{ kind: 'free' }>
  | Readonly<{ kind: 'taken'; headers: Record<string, string> }>
  | Readonly<{ kind: 'refused'; status: 403 | 429; headers: Record<string, string>; body: ErrorBody }>;

/** The enqueue routes' rate limit: checked after validation and before the commit, so a 400 costs no quota. */
export type EnqueueQuota = Readonly<{
  /** Room for these tasks in the caller's window, all or none. */
  take: (req: FastifyRequest, taskIds: readonly string[]) => Promise<QuotaOutcome>;
  /** The tasks were not stored after all: their room is given back. */
  giveBack: (req: FastifyRequest, taskIds: readonly string[]) => Promise<void>;
}>;

/**
 * Counts a key's enqueues against its own client's tier (also when an admin key enqueues for another client).
 * Without a limiter (AUTH_MODE=open) nothing is counted.
 */
export const enqueueQuota = (limiter: RateLimiter | null, tiers: Tiers): EnqueueQuota => ({
  take: async (req, taskIds) => {
    const { clientId, tier: tierName } = principalOf(req);
    if (!limiter || clientId === null || taskIds.length === 0) return { kind: 'free' };
    const tier = tiers.get(tierName ?? '');
    if (!tier) {
      return {
        kind: 'refused',
        status: 403,
        headers: {},
        body: {
          error: 'unknown_tier',
          message:
            `client ${clientId} has tier ${JSON.stringify(tierName)}, which TIERS does not define ` +
            `(${[...tiers.keys()].join(', ')}); an operator must change its tier`,
        },
      };
    }
    const decision = await limiter.take(clientId, tier.requestsPerMinute, taskIds);
    if (decision.allowed) return { kind: 'taken', headers: rateLimitHeaders(decision) };
    return {
      kind: 'refused',
      status: 429,
      headers: rateLimitHeaders(decision),
      body: { error: 'rate_limited', message: refusalMessage(decision, taskIds.length, tier.name) },
    };
  },
  giveBack: async (req, taskIds) => {
    const { clientId } = principalOf(req);
    if (limiter && clientId !== null) await limiter.giveBack(clientId, taskIds);
  },
});
