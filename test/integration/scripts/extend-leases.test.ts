import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { enqueue, sleepMs } from '../../support/commits.ts';
import { holders, ledger, pendingEntries, readyEntries } from '../../support/redis-state.ts';
import { testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

const IDLE = 120;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default']);
});
afterEach(() => ctx.close());

const leaseAll = async (workerId: string, ids: readonly string[]) => {
  for (const id of ids) await enqueue(ctx.store, id);
  const entries = (await ctx.store.lease(workerId, [{ name: 'default', quota: ids.length }])).entries;
  expect(entries.map((e) => e.task.id)).toEqual(ids);
  return entries.map((e) => e.entryId);
};

const idleOf = async (entryId: string) => {
  const p = (await pendingEntries(ctx.redis, ctx.keys, 'default')).find((e) => e.entryId === entryId);
  if (!p) throw new Error(`${entryId} is not pending`);
  return p;
};

describe('extend-leases script', () => {
  test('resets the idle time of the entries this consumer holds and reports none lost', async () => {
    const [a, b] = await leaseAll('worker-a', ['task-a', 'task-b']);
    if (!a || !b) throw new Error('nothing leased');
    await sleepMs(IDLE);
    expect((await idleOf(a)).idleMs).toBeGreaterThanOrEqual(IDLE - 5);

    expect(await ctx.store.extendLeases('worker-a', 'default', [a, b])).toEqual([]);

    for (const id of [a, b]) {
      const p = await idleOf(id);
      expect(p.idleMs).toBeLessThan(IDLE / 2);
      expect(p).toMatchObject({ consumer: 'worker-a', deliveries: 1 });
    }
  });

  test('an extended lease is not reclaimed by a reclaimer that would have taken it', async () => {
    const [a] = await leaseAll('worker-a', ['task-a']);
    await sleepMs(IDLE);

    await ctx.store.extendLeases('worker-a', 'default', [a ?? '']);

    expect(await ctx.store.reclaim('worker-b', ['default'], IDLE - 20, 10)).toEqual([]);
    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [a ?? '']: 'worker-a' });
  });

  test('reports an entry another consumer reclaimed as lost and does not take it back', async () => {
    const [kept, stolen] = await leaseAll('worker-a', ['task-kept', 'task-stolen']);
    if (!kept || !stolen) throw new Error('nothing leased');
    await ctx.redis.call('XCLAIM', ctx.keys.ready('default'), ctx.keys.workerGroup, 'worker-b', 0, stolen);
    await sleepMs(IDLE);

    expect(await ctx.store.extendLeases('worker-a', 'default', [kept, stolen])).toEqual([stolen]);

    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [kept]: 'worker-a', [stolen]: 'worker-b' });
    // the thief's lease is left to age: extending someone else's entry would hide a dead worker
    expect((await idleOf(stolen)).idleMs).toBeGreaterThanOrEqual(IDLE - 5);
    expect((await idleOf(stolen)).deliveries).toBe(2);
    expect((await idleOf(kept)).idleMs).toBeLessThan(IDLE / 2);
  });

  test('reports an entry that is no longer pending at all as lost', async () => {
    const [acked, held] = await leaseAll('worker-a', ['task-done', 'task-held']);
    if (!acked || !held) throw new Error('nothing leased');
    await ctx.redis.xack(ctx.keys.ready('default'), ctx.keys.workerGroup, acked);

    expect(await ctx.store.extendLeases('worker-a', 'default', [acked, held])).toEqual([acked]);

    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [held]: 'worker-a' });
  });

  test('writes nothing but the pending list: stream and ledger are untouched', async () => {
    const [a] = await leaseAll('worker-a', ['task-a']);
    const ready = await readyEntries(ctx.redis, ctx.keys, 'default');
    const entries = await ledger(ctx.redis, ctx.keys);

    expect(await ctx.store.extendLeases('worker-a', 'default', [a ?? ''])).toEqual([]);

    expect(await readyEntries(ctx.redis, ctx.keys, 'default')).toEqual(ready);
    expect(await ledger(ctx.redis, ctx.keys)).toEqual(entries);
  });
});
