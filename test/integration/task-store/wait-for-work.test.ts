import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { enqueue, sleepMs } from '../../support/commits.ts';
import { pendingEntries } from '../../support/redis-state.ts';
import { redisUrl, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;
let blocking: Redis;
const plan = [
  { name: 'critical', quota: 3 },
  { name: 'default', quota: 2 },
];

beforeEach(async () => {
  ctx = testStore();
  blocking = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  await ctx.store.ensureQueues(['critical', 'default']);
});
afterEach(async () => {
  blocking.disconnect();
  await ctx.close();
});

describe('lease then waitForWork', () => {
  test('a lease that fills its quotas says nothing about waiting', async () => {
    for (const id of ['c1', 'c2', 'c3']) await enqueue(ctx.store, id, { queue: 'critical' });
    for (const id of ['d1', 'd2']) await enqueue(ctx.store, id, { queue: 'default' });
    const { entries, waitFrom } = await ctx.store.lease('worker-a', plan);
    expect(entries).toHaveLength(5);
    expect(waitFrom).toBeNull();
  });

  test('a lease that drains the queues returns the newest id of each stream to wait from', async () => {
    await enqueue(ctx.store, 'c1', { queue: 'critical' });
    const { entries, waitFrom } = await ctx.store.lease('worker-a', plan);
    expect(entries.map((e) => e.task.id)).toEqual(['c1']);
    expect(waitFrom).toEqual(
      new Map([
        ['critical', entries[0]?.entryId],
        ['default', '0-0'],
      ]),
    );
  });

  test('with nothing new it waits up to blockMs, and leases nothing', async () => {
    const { waitFrom } = await ctx.store.lease('worker-a', plan);
    const started = performance.now();
    expect(await ctx.store.waitForWork(blocking, waitFrom ?? new Map(), 300)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  test('wakes when an entry is added while it waits, and leaves it for the next lease', async () => {
    const { waitFrom } = await ctx.store.lease('worker-a', plan);
    const waiting = ctx.store.waitForWork(blocking, waitFrom ?? new Map(), 10_000);
    await sleepMs(100);
    await enqueue(ctx.store, 'd1', { queue: 'default' });
    const started = performance.now();
    expect(await waiting).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await pendingEntries(ctx.redis, ctx.keys, 'default')).toEqual([]);
    expect((await ctx.store.lease('worker-a', plan)).entries.map((e) => e.task.id)).toEqual(['d1']);
  });

  test('an entry added between the lease and the wait is not missed', async () => {
    await enqueue(ctx.store, 'c1', { queue: 'critical' });
    const { waitFrom } = await ctx.store.lease('worker-a', plan);
    await enqueue(ctx.store, 'c2', { queue: 'critical' }); // lands before the wait starts
    const started = performance.now();
    expect(await ctx.store.waitForWork(blocking, waitFrom ?? new Map(), 5_000)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
