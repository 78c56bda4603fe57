import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runScript, scripts } from '../../../src/adapters/redis/scripts/index.ts';
import { sleepMs } from '../../support/commits.ts';
import { testStore } from '../../support/store.ts';

/** lock: renew or release a lock only while the caller's token holds it. */
let ctx: ReturnType<typeof testStore>;
let key: string;

beforeEach(() => {
  ctx = testStore();
  key = ctx.keys.projectionLock('tasks', 1);
});
afterEach(() => ctx.close());

const lock = (token: string, op: 'renew' | 'release', ttlMs = 0) =>
  runScript(ctx.redis, scripts.lock, [key], op === 'renew' ? [token, op, ttlMs] : [token, op]);

describe('runScript', () => {
  test('passes more values than a function call may take as arguments', async () => {
    // a projection batch of PROJECTION_BATCH_SIZE=5000 events once overflowed the stack spreading its values
    await ctx.redis.set(key, 'mine', 'PX', 60_000);
    const extra = Array.from({ length: 300_000 }, (_, i) => i);
    expect(await runScript(ctx.redis, scripts.lock, [key], ['mine', 'renew', 60_000, ...extra])).toBe(1);
  });
});

describe('lock script', () => {
  test('the holder renews its lock: 1, and the lock lives the new time to live from now', async () => {
    await ctx.redis.set(key, 'mine', 'PX', 1_000);
    expect(await lock('mine', 'renew', 60_000)).toBe(1);
    expect(await ctx.redis.get(key)).toBe('mine');
    expect(await ctx.redis.pttl(key)).toBeGreaterThan(59_000);
  });

  test('another token cannot renew it: 0, and its time to live is not extended', async () => {
    await ctx.redis.set(key, 'mine', 'PX', 1_000);
    expect(await lock('theirs', 'renew', 60_000)).toBe(0);
    expect(await ctx.redis.get(key)).toBe('mine');
    expect(await ctx.redis.pttl(key)).toBeLessThanOrEqual(1_000);
  });

  test('the holder releases its lock: 1, and the lock is free', async () => {
    await ctx.redis.set(key, 'mine', 'PX', 60_000);
    expect(await lock('mine', 'release')).toBe(1);
    expect(await ctx.redis.exists(key)).toBe(0);
  });

  test('another token cannot release it: 0, and the holder keeps it', async () => {
    await ctx.redis.set(key, 'mine', 'PX', 60_000);
    expect(await lock('theirs', 'release')).toBe(0);
    expect(await ctx.redis.get(key)).toBe('mine');
  });

  test('an expired lock can be neither renewed nor released, and renewing does not bring it back', async () => {
    await ctx.redis.set(key, 'mine', 'PX', 20);
    await sleepMs(60);
    expect(await lock('mine', 'renew', 60_000)).toBe(0);
    expect(await ctx.redis.exists(key)).toBe(0);
    expect(await lock('mine', 'release')).toBe(0);
  });

  test('a lock taken over by another process after it expired is the new holder’s: the old token can do nothing', async () => {
    await ctx.redis.set(key, 'old', 'PX', 20);
    await sleepMs(60);
    expect(await ctx.redis.set(key, 'new', 'PX', 60_000, 'NX')).toBe('OK');
    expect(await lock('old', 'renew', 60_000)).toBe(0);
    expect(await lock('old', 'release')).toBe(0);
    expect(await ctx.redis.get(key)).toBe('new');
  });
});
