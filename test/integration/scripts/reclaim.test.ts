import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decided, enqueue, leaseCommand, sleepMs } from '../../support/commits.ts';
import { holders, ledger, pendingEntries, readyEntries, taskHash } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

const MIN_IDLE = 50;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['critical', 'default']);
});
afterEach(() => ctx.close());

/** Enqueues one task per id and leases them all for `workerId`. */
const leased = async (workerId: string, queue: string, ids: readonly string[]) => {
  for (const id of ids) await enqueue(ctx.store, id, { queue });
  const entries = (await ctx.store.lease(workerId, [{ name: queue, quota: ids.length }])).entries;
  expect(entries.map((e) => e.task.id)).toEqual(ids);
  return entries;
};

describe('reclaim script', () => {
  test('moves entries idle longer than minIdle to the new consumer and returns their snapshots', async () => {
    const [a, b] = await leased('worker-a', 'default', ['task-a', 'task-b']);
    if (!a || !b) throw new Error('nothing leased');
    // the lease was committed before its holder died: the reclaimer must see the active task
    const lease = decided(a.task, leaseCommand('worker-a'), T0 + 1, { entryId: a.entryId });
    expect(await ctx.store.commit([lease.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
    await sleepMs(MIN_IDLE + 30);

    const taken = await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 10);

    expect(taken.map((t) => ({ queue: t.queue, entryId: t.entryId, id: t.task.id, client: t.entryClient }))).toEqual([
      { queue: 'default', entryId: a.entryId, id: 'task-a', client: 'client-1' },
      { queue: 'default', entryId: b.entryId, id: 'task-b', client: 'client-1' },
    ]);
    expect(taken[0]?.task).toEqual(lease.after);
    expect(taken[0]?.task).toMatchObject({ status: 'active', workerId: 'worker-a', version: 2 });
    expect(taken[0]?.events).toEqual([...a.events, ...lease.events]);
    expect(taken[0]?.request).toEqual(a.request);
    expect(taken[1]?.task).toEqual(b.task);
    const pending = await pendingEntries(ctx.redis, ctx.keys, 'default');
    expect(pending.map(({ entryId, consumer, deliveries }) => ({ entryId, consumer, deliveries }))).toEqual([
      { entryId: a.entryId, consumer: 'worker-b', deliveries: 2 },
      { entryId: b.entryId, consumer: 'worker-b', deliveries: 2 },
    ]);
    for (const p of pending) expect(p.idleMs).toBeLessThan(MIN_IDLE);
  });

  test('leaves alone entries that are not idle long enough', async () => {
    const [old] = await leased('worker-a', 'default', ['task-old']);
    await sleepMs(MIN_IDLE + 30);
    const [fresh] = await leased('worker-a', 'default', ['task-fresh']);
    if (!old || !fresh) throw new Error('nothing leased');

    const taken = await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 10);

    expect(taken.map((t) => t.entryId)).toEqual([old.entryId]);
    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({
      [old.entryId]: 'worker-b',
      [fresh.entryId]: 'worker-a',
    });
  });

  test('returns nothing while every lease is fresh', async () => {
    const [a] = await leased('worker-a', 'default', ['task-a']);
    if (!a) throw new Error('nothing leased');

    expect(await ctx.store.reclaim('worker-b', ['default'], 10_000, 10)).toEqual([]);

    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [a.entryId]: 'worker-a' });
  });

  test('takes at most max entries, across queues in the given order', async () => {
    const critical = await leased('worker-a', 'critical', ['c-1']);
    const normal = await leased('worker-a', 'default', ['d-1', 'd-2', 'd-3']);
    await sleepMs(MIN_IDLE + 30);

    const taken = await ctx.store.reclaim('worker-b', ['critical', 'default'], MIN_IDLE, 3);

    expect(taken.map((t) => [t.queue, t.task.id])).toEqual([
      ['critical', 'c-1'],
      ['default', 'd-1'],
      ['default', 'd-2'],
    ]);
    expect(await holders(ctx.redis, ctx.keys, 'critical')).toEqual({ [critical[0]?.entryId ?? '']: 'worker-b' });
    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({
      [normal[0]?.entryId ?? '']: 'worker-b',
      [normal[1]?.entryId ?? '']: 'worker-b',
      [normal[2]?.entryId ?? '']: 'worker-a',
    });
  });

  test('takes nothing when max is 0', async () => {
    const [a] = await leased('worker-a', 'default', ['task-a']);
    await sleepMs(MIN_IDLE + 30);

    expect(await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 0)).toEqual([]);

    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [a?.entryId ?? '']: 'worker-a' });
  });

  test('an entry whose stream entry is gone is dropped from the pending list, not returned', async () => {
    const [gone, kept] = await leased('worker-a', 'default', ['task-gone', 'task-kept']);
    if (!gone || !kept) throw new Error('nothing leased');
    await ctx.redis.xdel(ctx.keys.ready('default'), gone.entryId);
    await sleepMs(MIN_IDLE + 30);

    const taken = await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 10);

    expect(taken.map((t) => t.task.id)).toEqual(['task-kept']);
    expect(await holders(ctx.redis, ctx.keys, 'default')).toEqual({ [kept.entryId]: 'worker-b' });
  });

  test('reclaiming writes no event and keeps the entries in the stream', async () => {
    await leased('worker-a', 'default', ['task-a']);
    const hash = await taskHash(ctx.redis, ctx.keys, 'task-a');
    const entries = await ledger(ctx.redis, ctx.keys);
    const ready = await readyEntries(ctx.redis, ctx.keys, 'default');
    await sleepMs(MIN_IDLE + 30);

    expect(await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 10)).toHaveLength(1);

    expect(await taskHash(ctx.redis, ctx.keys, 'task-a')).toEqual(hash);
    expect(await ledger(ctx.redis, ctx.keys)).toEqual(entries);
    expect(await readyEntries(ctx.redis, ctx.keys, 'default')).toEqual(ready);
  });

  test('finds expired entries wherever they sit in the pending list, behind many live ones', async () => {
    const live = await leased(
      'worker-live',
      'default',
      Array.from({ length: 40 }, (_, i) => `live-${i}`),
    );
    const dead = await leased('worker-dead', 'default', ['dead-1', 'dead-2']);
    await sleepMs(MIN_IDLE + 30);
    // the live worker renews its 40 leases; the dead one does not
    expect(
      await ctx.store.extendLeases(
        'worker-live',
        'default',
        live.map((e) => e.entryId),
      ),
    ).toEqual([]);

    const taken = await ctx.store.reclaim('worker-b', ['default'], MIN_IDLE, 1);

    expect(taken.map((t) => t.entryId)).toEqual([dead[0]?.entryId]);
    expect(
      Object.values(await holders(ctx.redis, ctx.keys, 'default')).filter((h) => h === 'worker-live'),
    ).toHaveLength(40);
  });
});
