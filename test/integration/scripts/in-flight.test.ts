import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { inFlightLimits, unparkTasks } from '../../../src/adapters/redis/in-flight.ts';
import type { LeasedEntry } from '../../../src/adapters/redis/task-store.ts';
import { parseTiers } from '../../../src/domain/client/tier.ts';
import { attemptCommand, decided, enqueue, leaseCommand, sleepMs } from '../../support/commits.ts';
import { inFlightByClient, readyEntries } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

const LIMITS = inFlightLimits(parseTiers('small:60:2,big:60:4'));
let ctx: ReturnType<typeof testStore>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['critical', 'default', 'low']);
});
afterEach(() => ctx.close());

const register = (clientId: string, tier: string) => ctx.redis.hset(ctx.keys.client(clientId), 'tier', tier);

const fill = async (clientId: string, count: number, queue = 'default') => {
  for (let i = 1; i <= count; i++) await enqueue(ctx.store, `${clientId}-${i}`, { queue, clientId });
};

const lease = async (worker: string, quota: number, queue = 'default') =>
  (await ctx.store.lease(worker, [{ name: queue, quota }], LIMITS)).entries;

/** Commits the lease of each entry, then a 200 for each: the dispatches end and their entries are acked. */
const leaseAndFinish = async (worker: string, entries: readonly LeasedEntry[]) => {
  for (const e of entries) {
    const leased = decided(e.task, leaseCommand(worker), T0, { entryId: e.entryId, entryClient: e.entryClient });
    expect(await ctx.store.commit([leased.commit], worker)).toEqual([{ kind: 'ok' }]);
    const done = decided(leased.after, attemptCommand(leased.after, 200), T0, {
      entryId: e.entryId,
      entryClient: e.entryClient,
    });
    expect(await ctx.store.commit([done.commit], worker)).toEqual([{ kind: 'ok' }]);
  }
};

const parkedIds = async (clientId: string) =>
  (await ctx.redis.lrange(ctx.keys.parked(clientId), 0, -1)).map((p) => p.split(' ')[1]);

describe('in-flight limits in the lease and commit scripts', () => {
  test('a client at its limit gets no more; its extra tasks are parked, other clients’ tasks go out', async () => {
    await register('alpha', 'small');
    await fill('alpha', 5);
    await fill('beta', 3);

    const leased = await lease('worker-a', 10);

    expect(leased.map((e) => e.task.id)).toEqual(['alpha-1', 'alpha-2', 'beta-1', 'beta-2', 'beta-3']);
    expect(await parkedIds('alpha')).toEqual(['alpha-3', 'alpha-4', 'alpha-5']);
    expect(await readyEntries(ctx.redis, ctx.keys, 'default')).toHaveLength(5); // the leased ones, pending
    expect(await ctx.redis.smembers(ctx.keys.parkedClients)).toEqual(['alpha']);
    expect(Object.fromEntries(await inFlightByClient(ctx.redis, ctx.keys))).toEqual({
      alpha: { inFlight: 2, parked: 3 },
      beta: { inFlight: 3, parked: 0 },
    });
  });

  test('an ending dispatch frees its slot and puts one parked task back, which the next lease takes', async () => {
    await register('alpha', 'small');
    await fill('alpha', 4);
    const first = await lease('worker-a', 10);
    expect(first.map((e) => e.task.id)).toEqual(['alpha-1', 'alpha-2']);

    await leaseAndFinish('worker-a', first.slice(0, 1));

    expect(await parkedIds('alpha')).toEqual(['alpha-4']);
    expect((await inFlightByClient(ctx.redis, ctx.keys)).get('alpha')?.inFlight).toBe(1);
    const next = await lease('worker-a', 10);
    expect(next.map((e) => e.task.id)).toEqual(['alpha-3']);
    expect(await parkedIds('alpha')).toEqual(['alpha-4']);
  });

  test('a reclaimed entry keeps its client tag, so the reclaimer’s ack frees the slot the first lease counted', async () => {
    await register('alpha', 'small');
    await fill('alpha', 3);
    const first = await lease('worker-a', 10);
    expect(first.map((e) => [e.task.id, e.entryClient])).toEqual([
      ['alpha-1', 'alpha'],
      ['alpha-2', 'alpha'],
    ]);
    await sleepMs(60);
    const taken = await ctx.store.reclaim('worker-b', ['default'], 50, 1);
    expect(taken.map((e) => [e.task.id, e.entryClient])).toEqual([['alpha-1', 'alpha']]);

    await leaseAndFinish('worker-b', taken);

    expect((await inFlightByClient(ctx.redis, ctx.keys)).get('alpha')?.inFlight).toBe(1);
    expect((await readyEntries(ctx.redis, ctx.keys, 'default')).map((e) => e.taskId)).toEqual(['alpha-2', 'alpha-3']);
  });

  test('two workers leasing in turns never hold more than the limit, and every task gets out', async () => {
    await register('alpha', 'small');
    await fill('alpha', 9);
    const delivered: string[] = [];
    let peak = 0;
    for (let round = 0; delivered.length < 9 && round < 50; round++) {
      const a = await lease('worker-a', 3);
      const b = await lease('worker-b', 3);
      const count = (await inFlightByClient(ctx.redis, ctx.keys)).get('alpha')?.inFlight ?? 0;
      peak = Math.max(peak, count, a.length + b.length);
      await leaseAndFinish('worker-a', a);
      await leaseAndFinish('worker-b', b);
      delivered.push(...[...a, ...b].map((e) => e.task.id));
    }
    expect(peak).toBe(2);
    expect(delivered.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `alpha-${i + 1}`).sort());
    expect(await inFlightByClient(ctx.redis, ctx.keys)).toEqual(new Map());
    expect(await ctx.redis.exists(ctx.keys.parked('alpha'), ctx.keys.parkedClients)).toBe(0);
  });

  test('without limits nothing is parked, though the counts are still kept', async () => {
    await register('alpha', 'small');
    await fill('alpha', 4);
    const leased = (await ctx.store.lease('worker-a', [{ name: 'default', quota: 10 }])).entries;
    expect(leased).toHaveLength(4);
    expect((await inFlightByClient(ctx.redis, ctx.keys)).get('alpha')).toEqual({ inFlight: 4, parked: 0 });
  });

  test('a capped client’s backlog does not hold back another client’s task behind it', async () => {
    await register('alpha', 'small');
    await fill('alpha', 300);
    await fill('beta', 1);

    const { entries, waitFrom } = await ctx.store.lease('worker-a', [{ name: 'default', quota: 5 }], LIMITS);

    expect(entries.map((e) => e.task.id)).toEqual(['alpha-1', 'alpha-2', 'beta-1']);
    expect(await parkedIds('alpha')).toHaveLength(298);
    expect(waitFrom).not.toBeNull(); // the stream is drained: the worker may wait for new entries
  });

  test('past its read limit the script says the stream is not drained, and the next calls go on', async () => {
    await register('alpha', 'small');
    await fill('alpha', 1500);
    await fill('beta', 1);
    const calls: { ids: string[]; drained: boolean }[] = [];
    for (let i = 0; i < 20 && !calls.some((c) => c.ids.includes('beta-1')); i++) {
      const { entries, waitFrom } = await ctx.store.lease('worker-a', [{ name: 'default', quota: 3 }], LIMITS);
      calls.push({ ids: entries.map((e) => e.task.id), drained: waitFrom !== null });
    }
    // 1,498 entries to park at 2 or 3 per read, 200 reads per call: several calls, none claiming a drained stream
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.slice(0, -1).map((c) => c.drained)).toEqual(calls.slice(0, -1).map(() => false));
    expect(calls.at(-1)?.ids).toContain('beta-1');
    expect(await parkedIds('alpha')).toHaveLength(1498);
  });

  test('a parked task keeps its queue', async () => {
    await register('alpha', 'small');
    await fill('alpha', 3, 'low');
    await lease('worker-a', 10, 'low');
    expect(await ctx.redis.lrange(ctx.keys.parked('alpha'), 0, -1)).toEqual([`${ctx.keys.ready('low')} alpha-3`]);
  });

  test('the sweep puts back what a raised tier or a deleted client leaves room for', async () => {
    await register('alpha', 'small');
    await register('gamma', 'small');
    await fill('alpha', 6);
    await fill('gamma', 4);
    await lease('worker-a', 20);
    expect(await parkedIds('alpha')).toHaveLength(4);
    expect(await parkedIds('gamma')).toHaveLength(2);

    expect(await unparkTasks(ctx.redis, ctx.keys, LIMITS)).toBe(0); // both still at their limit of 2

    await register('alpha', 'big'); // room for 2 more
    await ctx.redis.del(ctx.keys.client('gamma')); // no limit any more
    expect(await unparkTasks(ctx.redis, ctx.keys, LIMITS)).toBe(4);
    expect(await parkedIds('alpha')).toEqual(['alpha-5', 'alpha-6']);
    expect(await ctx.redis.smembers(ctx.keys.parkedClients)).toEqual(['alpha']);
    const ready = (await readyEntries(ctx.redis, ctx.keys, 'default')).map((e) => e.taskId);
    expect(ready).toEqual(expect.arrayContaining(['alpha-3', 'alpha-4', 'gamma-3', 'gamma-4']));
  });

  test('a task cancelled while parked comes back, is dropped, and frees its slot', async () => {
    await register('alpha', 'small');
    await fill('alpha', 3);
    const first = await lease('worker-a', 10);
    const parked = await ctx.store.load('alpha-3');
    if (!parked) throw new Error('alpha-3 missing');
    const cancel = decided(parked.task, { type: 'CancelTask', data: { by: 'test' } }, T0);
    expect(await ctx.store.commit([cancel.commit])).toEqual([{ kind: 'ok' }]);

    await leaseAndFinish('worker-a', first.slice(0, 1));
    const again = await lease('worker-a', 10);
    expect(again.map((e) => [e.task.id, e.task.status])).toEqual([['alpha-3', 'cancelled']]);
    const dropped = decided(again[0]?.task ?? parked.task, leaseCommand('worker-a'), T0, {
      entryId: again[0]?.entryId ?? '',
      entryClient: again[0]?.entryClient ?? '',
    });
    expect(await ctx.store.commit([dropped.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
    expect((await inFlightByClient(ctx.redis, ctx.keys)).get('alpha')?.inFlight).toBe(1);
  });
});
