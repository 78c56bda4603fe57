import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RateLimiter } from '../../../src/adapters/redis/rate-limiter.ts';
import { redisUrl, T0, testStore } from '../../support/store.ts';

/** rate-window: a client's sliding-window log, all or nothing per call. */
let ctx: ReturnType<typeof testStore>;
let limiter: RateLimiter;
let window: string;
const MINUTE = 60_000;

beforeEach(() => {
  ctx = testStore();
  limiter = new RateLimiter(ctx.redis, ctx.keys);
  window = ctx.keys.rateWindow('client-x');
});
afterEach(() => ctx.close());

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const entries = async () => ctx.redis.zrange(window, '0', '-1', 'WITHSCORES');

describe('rate-window script', () => {
  test('accepts up to the limit: each id is an entry scored with the time, remaining counts down', async () => {
    expect(await limiter.take('client-x', 3, ['a'], T0)).toEqual({
      allowed: true,
      limit: 3,
      remaining: 2,
      resetMs: MINUTE,
    });
    expect(await limiter.take('client-x', 3, ['b', 'c'], T0 + 1000)).toEqual({
      allowed: true,
      limit: 3,
      remaining: 0,
      resetMs: MINUTE - 1000,
    });
    expect(await entries()).toEqual(['a', String(T0), 'b', String(T0 + 1000), 'c', String(T0 + 1000)]);
    expect(await ctx.redis.pttl(window)).toBeGreaterThan(MINUTE - 5000);
  });

  test('a refusal writes nothing and says when the oldest entry leaves', async () => {
    await limiter.take('client-x', 2, ['a'], T0);
    await limiter.take('client-x', 2, ['b'], T0 + 10_000);
    const before = await entries();
    expect(await limiter.take('client-x', 2, ['c'], T0 + 15_000)).toEqual({
      allowed: false,
      limit: 2,
      remaining: 0,
      retryAfterMs: MINUTE - 15_000,
    });
    expect(await entries()).toEqual(before);
  });

  test('a batch that does not fit is refused whole; the wait is until enough entries have left', async () => {
    await limiter.take('client-x', 5, ['a'], T0);
    await limiter.take('client-x', 5, ['b'], T0 + 5_000);
    await limiter.take('client-x', 5, ['c'], T0 + 9_000);
    // 3 taken, 2 left: 4 more need 2 entries (a, then b) to leave, b leaves at T0 + 65 s
    expect(await limiter.take('client-x', 5, ids('batch', 4), T0 + 20_000)).toEqual({
      allowed: false,
      limit: 5,
      remaining: 2,
      retryAfterMs: 45_000,
    });
    expect(await ctx.redis.zcard(window)).toBe(3);
    expect((await limiter.take('client-x', 5, ids('batch', 4), T0 + 65_000)).allowed).toBe(true);
    expect(await ctx.redis.zrange(window, '0', '-1')).toEqual(['c', ...ids('batch', 4)]);
  });

  test('more tasks than the limit in one call can never fit: retryAfterMs null, nothing written', async () => {
    expect(await limiter.take('client-x', 5, ids('big', 6), T0)).toEqual({
      allowed: false,
      limit: 5,
      remaining: 5,
      retryAfterMs: null,
    });
    expect(await ctx.redis.exists(window)).toBe(0);
  });

  test('the window slides: an entry leaves exactly one window after it was taken', async () => {
    await limiter.take('client-x', 1, ['a'], T0);
    expect((await limiter.take('client-x', 1, ['b'], T0 + MINUTE - 1)).allowed).toBe(false);
    expect((await limiter.take('client-x', 1, ['b'], T0 + MINUTE)).allowed).toBe(true);
    expect(await ctx.redis.zrange(window, '0', '-1')).toEqual(['b']);
  });

  test('a batch of 1,000 fits in one call (ZADD in chunks)', async () => {
    expect(await limiter.take('client-x', 1000, ids('t', 1000), T0)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await ctx.redis.zcard(window)).toBe(1000);
  });

  test('without a time given it counts on Redis’s clock', async () => {
    const [seconds] = await ctx.redis.time();
    await limiter.take('client-x', 5, ['a']);
    const score = Number(await ctx.redis.zscore(window, 'a'));
    expect(Math.abs(score - Number(seconds) * 1000)).toBeLessThan(5000);
  });

  test('giving back removes only the named entries', async () => {
    await limiter.take('client-x', 5, ['a', 'b', 'c'], T0);
    await limiter.giveBack('client-x', ['b']);
    expect(await ctx.redis.zrange(window, '0', '-1')).toEqual(['a', 'c']);
  });

  test('exact across processes: two connections hammering one client get exactly `limit` accepted', async () => {
    const other = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    try {
      const limiters = [limiter, new RateLimiter(other, ctx.keys)];
      const limit = 37;
      const calls = Array.from({ length: 400 }, (_, i) =>
        (limiters[i % 2] as RateLimiter).take('client-x', limit, [`t-${i}`]),
      );
      const decisions = await Promise.all(calls);
      const accepted = decisions.flatMap((d, i) => (d.allowed ? [`t-${i}`] : []));
      expect(accepted).toHaveLength(limit);
      expect((await ctx.redis.zrange(window, '0', '-1')).sort()).toEqual(accepted.sort());
      // every connection got some of both answers: the calls really interleaved
      for (const parity of [0, 1]) {
        expect(decisions.some((d, i) => i % 2 === parity && !d.allowed)).toBe(true);
      }
    } finally {
      await other.quit();
    }
  });
});
