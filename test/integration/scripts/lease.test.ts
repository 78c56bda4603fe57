import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decided, enqueue, leaseCommand, REQUEST } from '../../support/commits.ts';
import { dueSet, holders, ledger, pendingEntries, readyEntries, taskHash } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['critical', 'default', 'low']);
});
afterEach(() => ctx.close());

const fill = async (queue: string, count: number) => {
  for (let i = 1; i <= count; i++) await enqueue(ctx.store, `${queue}-${i}`, { queue });
};

describe('lease script', () => {
  test('takes each queue’s quota, oldest first, in plan order', async () => {
    await fill('critical', 5);
    await fill('default', 5);

    const leased = (
      await ctx.store.lease('worker-a', [
        { name: 'critical', quota: 2 },
        { name: 'default', quota: 1 },
      ])
    ).entries;

    expect(leased.map((e) => [e.queue, e.task.id])).toEqual([
      ['critical', 'critical-1'],
      ['critical', 'critical-2'],
      ['default', 'default-1'],
    ]);
    expect(Object.keys(await holders(ctx.redis, ctx.keys, 'critical'))).toHaveLength(2);
    expect(Object.keys(await holders(ctx.redis, ctx.keys, 'default'))).toHaveLength(1);
  });

  test('fills what an empty queue left from the other queues', async () => {
    await fill('default', 5);
    await fill('low', 1);

    const leased = (
      await ctx.store.lease('worker-a', [
        { name: 'critical', quota: 2 },
        { name: 'low', quota: 2 },
        { name: 'default', quota: 1 },
      ])
    ).entries;

    expect(leased.map((e) => e.task.id)).toEqual(['low-1', 'default-1', 'default-2', 'default-3', 'default-4']);
  });

  test('a queue with no quota this round still fills slots the others left empty', async () => {
    await fill('critical', 1);
    await fill('low', 5);

    const leased = (
      await ctx.store.lease('worker-a', [
        { name: 'critical', quota: 2 },
        { name: 'low', quota: 0 },
      ])
    ).entries;

    expect(leased.map((e) => e.task.id)).toEqual(['critical-1', 'low-1']);
  });

  test('never leases more than the sum of the quotas', async () => {
    await fill('critical', 5);
    await fill('default', 5);

    const leased = (
      await ctx.store.lease('worker-a', [
        { name: 'critical', quota: 0 },
        { name: 'default', quota: 0 },
      ])
    ).entries;

    expect(leased).toEqual([]);
    expect(await pendingEntries(ctx.redis, ctx.keys, 'critical')).toEqual([]);
    expect(await pendingEntries(ctx.redis, ctx.keys, 'default')).toEqual([]);
  });

  test('the leased entries land in this consumer’s pending list, delivered once', async () => {
    await fill('default', 3);
    const ready = await readyEntries(ctx.redis, ctx.keys, 'default');

    const leased = (await ctx.store.lease('worker-a', [{ name: 'default', quota: 2 }])).entries;

    expect(leased.map((e) => e.entryId)).toEqual(ready.slice(0, 2).map((r) => r.entryId));
    expect(
      (await pendingEntries(ctx.redis, ctx.keys, 'default')).map(({ entryId, consumer, deliveries }) => ({
        entryId,
        consumer,
        deliveries,
      })),
    ).toEqual(ready.slice(0, 2).map((r) => ({ entryId: r.entryId, consumer: 'worker-a', deliveries: 1 })));
    // reading is the lease: the entries stay in the stream until the attempt is committed
    expect(await readyEntries(ctx.redis, ctx.keys, 'default')).toEqual(ready);
  });

  test('an entry already leased is not handed out again', async () => {
    await fill('default', 3);
    const first = (await ctx.store.lease('worker-a', [{ name: 'default', quota: 2 }])).entries;

    const second = (await ctx.store.lease('worker-b', [{ name: 'default', quota: 5 }])).entries;

    expect(first.map((e) => e.task.id)).toEqual(['default-1', 'default-2']);
    expect(second.map((e) => e.task.id)).toEqual(['default-3']);
    const owners = Object.values(await holders(ctx.redis, ctx.keys, 'default'));
    expect(owners).toEqual(['worker-a', 'worker-a', 'worker-b']);
  });

  test('returns each task’s snapshot: version, history and request', async () => {
    const enqueued = await enqueue(ctx.store, 'task-a', { queue: 'critical' });
    const plain = await enqueue(ctx.store, 'task-b', { queue: 'critical', request: { ...REQUEST, body: '' } });

    const [a, b] = (await ctx.store.lease('worker-a', [{ name: 'critical', quota: 2 }])).entries;

    expect(a?.task).toEqual(enqueued.after);
    expect(a?.task).toMatchObject({ id: 'task-a', version: 1, status: 'pending', queue: 'critical' });
    expect(a?.events).toEqual(enqueued.events);
    expect(a?.request).toEqual(REQUEST);
    expect(b?.task).toEqual(plain.after);
    expect(b?.request).toEqual({ ...REQUEST, body: '' });
    // the snapshot is enough to decide the lease without reading the task again
    const lease = decided(a?.task ?? plain.after, leaseCommand('worker-a'), T0 + 1, { entryId: a?.entryId ?? '' });
    expect(await ctx.store.commit([lease.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
  });

  test('leasing writes no event: the task hash, the ledger and the due set are untouched', async () => {
    const { after } = await enqueue(ctx.store, 'task-a');
    await enqueue(ctx.store, 'task-b', { delayMs: 1_000 });
    const hash = await taskHash(ctx.redis, ctx.keys, 'task-a');
    const entries = await ledger(ctx.redis, ctx.keys);
    const due = await dueSet(ctx.redis, ctx.keys);

    const leased = (await ctx.store.lease('worker-a', [{ name: 'default', quota: 5 }])).entries;

    expect(leased.map((e) => e.task)).toEqual([after]);
    expect(await taskHash(ctx.redis, ctx.keys, 'task-a')).toEqual(hash);
    expect(await ledger(ctx.redis, ctx.keys)).toEqual(entries);
    expect(await dueSet(ctx.redis, ctx.keys)).toEqual(due);
  });

  test('a ready entry whose task hash is missing comes back as a new task at version 0', async () => {
    await ctx.redis.xadd(ctx.keys.ready('default'), '*', 'id', 'ghost');

    const [entry] = (await ctx.store.lease('worker-a', [{ name: 'default', quota: 1 }])).entries;

    expect(entry).toMatchObject({ queue: 'default', events: [], request: null });
    expect(entry?.task).toMatchObject({ id: 'ghost', version: 0, status: 'new' });
  });

  test('returns nothing and leases nothing when every queue is empty', async () => {
    const leased = (
      await ctx.store.lease('worker-a', [
        { name: 'critical', quota: 3 },
        { name: 'default', quota: 2 },
        { name: 'low', quota: 1 },
      ])
    ).entries;

    expect(leased).toEqual([]);
    for (const q of ['critical', 'default', 'low']) {
      expect(await pendingEntries(ctx.redis, ctx.keys, q)).toEqual([]);
    }
  });
});
