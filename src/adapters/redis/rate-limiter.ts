import type { Redis } from 'ioredis';
import { type QuotaDecision, RATE_WINDOW_MS } from '../../domain/client/rate-limit.ts';
import type { Keys } from './keys.ts';
import { runScript, scripts } from './scripts/index.ts';
import { guardStorage } from './task-store.ts';

/**
 * Per-client enqueue quota: a sliding-window log in Redis (rate-window.lua), one entry per accepted task, so that
 * any number of API processes share one exact count. Time is Redis's own clock unless a test passes `now`.
 */
export class RateLimiter {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly windowMs: number;

  constructor(redis: Redis, keys: Keys, windowMs = RATE_WINDOW_MS) {
    this.redis = redis;
    this.keys = keys;
    this.windowMs = windowMs;
  }

  /**
   * Takes room for every id in `taskIds` (one per task), or for none of them. Nothing is written for a refusal
   * (apart from dropping entries that have left the window).
   */
  async take(clientId: string, limit: number, taskIds: readonly string[], now?: number): Promise<QuotaDecision> {
    const [allowed, remaining, ms] = (await guardStorage('take rate quota', () =>
      runScript(
        this.redis,
        scripts.rateWindow,
        [this.keys.rateWindow(clientId)],
        [limit, this.windowMs, now ?? '', ...taskIds],
      ),
    )) as [number, number, number];
    return allowed === 1
      ? { allowed: true, limit, remaining, resetMs: ms }
      : { allowed: false, limit, remaining, retryAfterMs: ms < 0 ? null : ms };
  }

  /** Gives back the room of tasks that were not stored after all (the commit failed); best effort. */
  async giveBack(clientId: string, taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.redis.zrem(this.keys.rateWindow(clientId), ...taskIds).catch(() => undefined);
  }
}
