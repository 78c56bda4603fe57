import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { encodeEvent } from '../../../src/adapters/redis/codec.ts';
import { initialTask } from '../../../src/domain/task/task.ts';
import {
  attemptCommand,
  decided,
  enqueue,
  enqueueDecided,
  leaseCommand,
  REQUEST,
  sleepMs,
} from '../../support/commits.ts';
import { dueSet, holders, ledger, readyEntries, taskHash, taskState } from '../../support/redis-state.ts';
import { redisUrl, T0, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default', 'critical']);
});
afterEach(() => ctx.close());

/** Leases `taskId` (the only task in `queue`) for `workerId` and commits the lease, fenced by the entry. */
const leaseAndCommit = async (workerId: string, queue = 'default') => {
  const [entry] = (await ctx.store.lease(workerId, [{ name: queue, quota: 1 }])).entries;
  if (!entry) throw new Error('nothing to lease');
  const lease = decided(entry.task, leaseCommand(workerId), T0 + 100, { entryId: entry.entryId });
  expect(await ctx.store.commit([lease.commit], workerId)).toEqual([{ kind: 'ok' }]);
  return { entry, active: lease.after };
};

describe('commit script', () => {
  test('creates a task at version 0 with its request and puts it in its ready stream', async () => {
    const { redis, keys, store } = ctx;
    const { commit } = enqueueDecided('task-a');

    expect(await store.commit([commit])).toEqual([{ kind: 'ok' }]);

    const line = { t: 'enqueued', v: 1, at: T0, s: 1, d: { queue: 'default', clientId: 'client-1', scheduleTime: T0 } };
    const hash = await taskHash(redis, keys, 'task-a');
    expect(Object.keys(hash).sort()).toEqual(['h', 'r', 'v']);
    expect(hash.v).toBe('1');
    expect(JSON.parse(hash.h ?? '')).toEqual(line);
    expect(JSON.parse(hash.r ?? '')).toEqual(REQUEST);
    const entries = await ledger(redis, keys);
    expect(entries).toEqual([{ entryId: expect.stringMatching(/^\d+-\d+$/), id: 'task-a', e: hash.h }]);
    expect(await readyEntries(redis, keys, 'default')).toEqual([
      { entryId: expect.stringMatching(/^\d+-\d+$/), taskId: 'task-a' },
    ]);
    expect(await readyEntries(redis, keys, 'critical')).toEqual([]);
    expect(await holders(redis, keys, 'default')).toEqual({});
    expect(await dueSet(redis, keys)).toEqual([]);
  });

  test('creates a delayed task in the due set and not in a ready stream', async () => {
    const { redis, keys, store } = ctx;
    const { commit, events } = enqueueDecided('task-a', { delayMs: 5_000 });

    expect(await store.commit([commit])).toEqual([{ kind: 'ok' }]);

    const lines = events.map(encodeEvent);
    expect(events.map((e) => e.type)).toEqual(['enqueued', 'scheduled']);
    expect(await taskHash(redis, keys, 'task-a')).toEqual({ v: '2', h: lines.join('\n'), r: JSON.stringify(REQUEST) });
    expect((await ledger(redis, keys)).map(({ id, e }) => ({ id, e }))).toEqual(
      lines.map((e) => ({ id: 'task-a', e })),
    );
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
    expect(await dueSet(redis, keys)).toEqual([{ taskId: 'task-a', dueAt: T0 + 5_000 }]);
  });

  test('a second create of the same id conflicts with the current version and writes nothing', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const before = await taskState(redis, keys, 'task-a', 'default');
    const beforeCritical = await readyEntries(redis, keys, 'critical');
    const again = enqueueDecided('task-a', {
      queue: 'critical',
      delayMs: 3_000,
      at: T0 + 50,
      request: { ...REQUEST, url: 'http://other.test/' },
    });

    expect(await store.commit([again.commit])).toEqual([{ kind: 'conflict', current: 1 }]);

    expect(await taskState(redis, keys, 'task-a', 'default')).toEqual(before);
    expect(await readyEntries(redis, keys, 'critical')).toEqual(beforeCritical);
    expect(before.ledger).toHaveLength(1);
    expect(before.due).toEqual([]);
  });

  test('a commit decided on a stale version conflicts and writes nothing (two promoters race)', async () => {
    const { redis, keys, store } = ctx;
    const { after: scheduled } = await enqueue(store, 'task-a', { delayMs: 5_000 });
    const first = decided(scheduled, { type: 'ReleaseDue', data: {} }, T0 + 5_000);
    const second = decided(scheduled, { type: 'ReleaseDue', data: {} }, T0 + 5_001);
    expect(await store.commit([first.commit])).toEqual([{ kind: 'ok' }]);
    const before = await taskState(redis, keys, 'task-a', 'default');

    expect(await store.commit([second.commit])).toEqual([{ kind: 'conflict', current: 3 }]);

    expect(await taskState(redis, keys, 'task-a', 'default')).toEqual(before);
    expect(before.hash.v).toBe('3');
    expect(before.ledger).toHaveLength(3);
    expect(before.ready.map((r) => r.taskId)).toEqual(['task-a']);
    expect(before.due).toEqual([]);
  });

  test('a fenced commit by a consumer that never read the entry is lease-lost and writes nothing', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const [entry] = (await store.lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    if (!entry) throw new Error('nothing leased');
    const before = await taskState(redis, keys, 'task-a', 'default');
    const intruder = decided(entry.task, leaseCommand('worker-b'), T0 + 100, { entryId: entry.entryId });

    expect(await store.commit([intruder.commit], 'worker-b')).toEqual([{ kind: 'lease-lost' }]);

    expect(await taskState(redis, keys, 'task-a', 'default')).toEqual(before);
    expect(before.hash.v).toBe('1');
    expect(before.pending).toEqual({ [entry.entryId]: 'worker-a' });
  });

  test.each([
    [
      'XCLAIM',
      async (entryId: string) => {
        await ctx.redis.call('XCLAIM', ctx.keys.ready('default'), ctx.keys.workerGroup, 'worker-b', 0, entryId);
      },
    ],
    [
      'the reclaim script',
      async (entryId: string) => {
        await sleepMs(20);
        const taken = await ctx.store.reclaim('worker-b', ['default'], 10, 10);
        expect(taken.map((t) => t.entryId)).toEqual([entryId]);
      },
    ],
  ])(
    'after another consumer took the entry over with %s, the old holder’s commit is lease-lost',
    async (_, takeOver) => {
      const { redis, keys, store } = ctx;
      await enqueue(store, 'task-a');
      const { entry, active } = await leaseAndCommit('worker-a');
      await takeOver(entry.entryId);
      const before = await taskState(redis, keys, 'task-a', 'default');
      const attempt = decided(active, attemptCommand(active, 500), T0 + 200, { entryId: entry.entryId });
      expect(attempt.commit).toMatchObject({ ack: true, due: T0 + 1_200 });

      expect(await store.commit([attempt.commit], 'worker-a')).toEqual([{ kind: 'lease-lost' }]);

      expect(await taskState(redis, keys, 'task-a', 'default')).toEqual(before);
      expect(before.hash.v).toBe('2');
      expect(before.pending).toEqual({ [entry.entryId]: 'worker-b' });
      expect(before.ready.map((r) => r.entryId)).toEqual([entry.entryId]);
      expect(before.due).toEqual([]);
    },
  );

  test('a fenced lease commit by the holder keeps the entry in its pending list', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const { entry } = await leaseAndCommit('worker-a');

    expect((await taskHash(redis, keys, 'task-a')).v).toBe('2');
    expect(await holders(redis, keys, 'default')).toEqual({ [entry.entryId]: 'worker-a' });
    expect((await readyEntries(redis, keys, 'default')).map((r) => r.entryId)).toEqual([entry.entryId]);
  });

  test('a successful attempt acks and deletes the entry: it leaves the pending list and the stream', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    await enqueue(store, 'task-b');
    const [entry, other] = (await store.lease('worker-a', [{ name: 'default', quota: 2 }])).entries;
    if (!entry || !other) throw new Error('nothing leased');
    const lease = decided(entry.task, leaseCommand('worker-a'), T0 + 100, { entryId: entry.entryId });
    expect(await store.commit([lease.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
    const success = decided(lease.after, attemptCommand(lease.after, 204), T0 + 200, { entryId: entry.entryId });
    expect(success.commit).toMatchObject({ ack: true, ready: false, due: null });

    expect(await store.commit([success.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);

    expect(await holders(redis, keys, 'default')).toEqual({ [other.entryId]: 'worker-a' });
    expect(await readyEntries(redis, keys, 'default')).toEqual([{ entryId: other.entryId, taskId: 'task-b' }]);
    const hash = await taskHash(redis, keys, 'task-a');
    expect(hash.v).toBe('4');
    expect(hash.h?.split('\n').map((l) => JSON.parse(l).t)).toEqual(['enqueued', 'leased', 'attempted', 'succeeded']);
    expect(await dueSet(redis, keys)).toEqual([]);
  });

  test('a failed attempt acks the entry and adds the task to the due set at its retry time', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const { entry, active } = await leaseAndCommit('worker-a');
    const attempt = decided(active, attemptCommand(active, 503), T0 + 200, { entryId: entry.entryId });

    expect(await store.commit([attempt.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);

    expect(await dueSet(redis, keys)).toEqual([{ taskId: 'task-a', dueAt: T0 + 1_200 }]);
    expect(await holders(redis, keys, 'default')).toEqual({});
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
    expect((await taskHash(redis, keys, 'task-a')).v).toBe('4');
  });

  test('releasing a due task removes it from the due set and adds it to its ready stream', async () => {
    const { redis, keys, store } = ctx;
    const { after: scheduled } = await enqueue(store, 'task-a', { queue: 'critical', delayMs: 5_000 });
    await enqueue(store, 'task-b', { delayMs: 9_000 });
    const release = decided(scheduled, { type: 'ReleaseDue', data: {} }, T0 + 5_000);
    expect(release.commit).toMatchObject({ due: 'remove', ready: true, queue: 'critical' });

    expect(await store.commit([release.commit])).toEqual([{ kind: 'ok' }]);

    expect(await dueSet(redis, keys)).toEqual([{ taskId: 'task-b', dueAt: T0 + 9_000 }]);
    expect((await readyEntries(redis, keys, 'critical')).map((r) => r.taskId)).toEqual(['task-a']);
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
    expect((await taskHash(redis, keys, 'task-a')).v).toBe('3');
  });

  test('cancelling a scheduled task removes it from the due set without making it ready', async () => {
    const { redis, keys, store } = ctx;
    const { after: scheduled, events } = await enqueue(store, 'task-a', { delayMs: 5_000 });
    const cancel = decided(scheduled, { type: 'CancelTask', data: { by: 'api' } }, T0 + 10);
    expect(cancel.commit).toMatchObject({ due: 'remove', ready: false });

    expect(await store.commit([cancel.commit])).toEqual([{ kind: 'ok' }]);

    expect(await dueSet(redis, keys)).toEqual([]);
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
    const hash = await taskHash(redis, keys, 'task-a');
    expect(hash.v).toBe('3');
    expect(hash.h).toBe([...events, ...cancel.events].map(encodeEvent).join('\n'));
  });

  test('the request is stored once, in r, and kept by later commits that carry none', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const { active } = await leaseAndCommit('worker-a');
    expect(active.version).toBe(2);

    const hash = await taskHash(redis, keys, 'task-a');
    expect(JSON.parse(hash.r ?? '')).toEqual(REQUEST);
    expect(hash.h).not.toContain(REQUEST.url);
    for (const entry of await ledger(redis, keys)) expect(entry.e).not.toContain(REQUEST.url);
  });

  test('a batch applies each task on its own: one conflict does not stop the others', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-b', { delayMs: 7_000 });
    const bBefore = await taskHash(redis, keys, 'task-b');
    const a = enqueueDecided('task-a', { at: T0 + 1 });
    const b = enqueueDecided('task-b', { at: T0 + 1 });
    const c = enqueueDecided('task-c', { at: T0 + 1, queue: 'critical', delayMs: 3_000 });

    expect(await store.commit([a.commit, b.commit, c.commit])).toEqual([
      { kind: 'ok' },
      { kind: 'conflict', current: 2 },
      { kind: 'ok' },
    ]);

    expect(await taskHash(redis, keys, 'task-b')).toEqual(bBefore);
    expect((await taskHash(redis, keys, 'task-a')).v).toBe('1');
    expect((await taskHash(redis, keys, 'task-c')).v).toBe('2');
    expect((await ledger(redis, keys)).map((e) => e.id)).toEqual(['task-b', 'task-b', 'task-a', 'task-c', 'task-c']);
    expect((await readyEntries(redis, keys, 'default')).map((r) => r.taskId)).toEqual(['task-a']);
    expect(await readyEntries(redis, keys, 'critical')).toEqual([]);
    expect(await dueSet(redis, keys)).toEqual([
      { taskId: 'task-c', dueAt: T0 + 3_001 },
      { taskId: 'task-b', dueAt: T0 + 7_000 },
    ]);
  });

  test('the ledger gets one entry per event, in commit order, each with its task id', async () => {
    const { redis, keys, store } = ctx;
    const a = enqueueDecided('task-a', { delayMs: 1_000 });
    const b = enqueueDecided('task-b', { delayMs: 2_000 });
    expect(await store.commit([a.commit, b.commit])).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);
    const release = decided(a.after, { type: 'ReleaseDue', data: {} }, T0 + 1_000);
    expect(await store.commit([release.commit])).toEqual([{ kind: 'ok' }]);

    const entries = await ledger(redis, keys);
    expect(entries.map(({ id, e }) => ({ id, e }))).toEqual([
      ...a.events.map((e) => ({ id: 'task-a', e: encodeEvent(e) })),
      ...b.events.map((e) => ({ id: 'task-b', e: encodeEvent(e) })),
      ...release.events.map((e) => ({ id: 'task-a', e: encodeEvent(e) })),
    ]);
    expect(entries.map((e) => JSON.parse(e.e).t)).toEqual([
      'enqueued',
      'scheduled',
      'enqueued',
      'scheduled',
      'released',
    ]);
    expect(entries.map((e) => JSON.parse(e.e).v)).toEqual([1, 2, 1, 2, 3]);
  });

  test('a commit with no events still moves the task, and writes no history or ledger entry', async () => {
    const { redis, keys, store } = ctx;
    await enqueue(store, 'task-a');
    const [entry] = (await store.lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    if (!entry) throw new Error('nothing leased');
    const cancelled = decided(entry.task, { type: 'CancelTask', data: { by: 'api' } }, T0 + 5);
    expect(await store.commit([cancelled.commit])).toEqual([{ kind: 'ok' }]);
    const hashBefore = await taskHash(redis, keys, 'task-a');
    const ledgerBefore = await ledger(redis, keys);
    // a worker that leased a task cancelled meanwhile decides nothing and drops the entry
    const drop = decided(cancelled.after, leaseCommand('worker-a'), T0 + 10, { entryId: entry.entryId });
    expect(drop.commit).toMatchObject({ events: [], ack: true, expected: 2 });

    expect(await store.commit([drop.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);

    expect(await taskHash(redis, keys, 'task-a')).toEqual(hashBefore);
    expect(await ledger(redis, keys)).toEqual(ledgerBefore);
    expect(await holders(redis, keys, 'default')).toEqual({});
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
  });

  test('publishes on the wake channel only when the new due task is the earliest', async () => {
    const { keys, store } = ctx;
    const subscriber = new Redis(redisUrl());
    try {
      const messages: [string, string][] = [];
      subscriber.on('message', (channel: string, message: string) => messages.push([channel, message]));
      await subscriber.subscribe(keys.wake);

      await enqueue(store, 'ready-now');
      await enqueue(store, 'first', { delayMs: 5_000 });
      await enqueue(store, 'later', { delayMs: 9_000 });
      await enqueue(store, 'earlier', { delayMs: 2_000 });

      // pub/sub keeps order on one connection: once the last message is in, any other would be too
      await vi.waitFor(() => expect(messages).toHaveLength(2));
      await sleepMs(50);
      expect(messages).toEqual([
        [keys.wake, String(T0 + 5_000)],
        [keys.wake, String(T0 + 2_000)],
      ]);
    } finally {
      subscriber.disconnect();
    }
  });

  test('the task hash of a task never created reads as version 0', async () => {
    const { redis, keys, store } = ctx;
    const stale = decided(
      { ...initialTask('task-a'), version: 1, status: 'pending', queue: 'default' },
      { type: 'CancelTask', data: { by: 'api' } },
      T0,
    );

    expect(await store.commit([stale.commit])).toEqual([{ kind: 'conflict', current: 0 }]);

    expect(await taskHash(redis, keys, 'task-a')).toEqual({});
    expect(await ledger(redis, keys)).toEqual([]);
  });

  test('a fenced commit naming a queue with no stream is lease-lost without aborting the rest of the batch', async () => {
    const { store } = ctx;
    const a = await enqueue(store, 'task-a', { queue: 'default' });
    const b = await enqueue(store, 'task-b', { queue: 'default' });
    const [ea, eb] = (await store.lease('worker-a', [{ name: 'default', quota: 2 }])).entries;
    const leaseA = decided(a.after, leaseCommand('worker-a'), T0 + 1, { entryId: ea?.entryId ?? '' });
    const leaseB = decided(b.after, leaseCommand('worker-a'), T0 + 1, { entryId: eb?.entryId ?? '' });
    const ghost = { ...leaseA.commit, taskId: 'ghost', queue: 'no-such-queue', expected: 0, events: [] };

    const results = await store.commit([leaseA.commit, ghost, leaseB.commit], 'worker-a');

    expect(results).toEqual([{ kind: 'ok' }, { kind: 'lease-lost' }, { kind: 'ok' }]);
    expect((await store.load('task-b'))?.task.status).toBe('active');
  });
});
