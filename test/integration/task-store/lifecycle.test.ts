import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { encodeEvent } from '../../../src/adapters/redis/codec.ts';
import { attemptCommand, decided, enqueue, leaseCommand, REQUEST, RETRY } from '../../support/commits.ts';
import { dueSet, holders, ledger, readyEntries } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default']);
});
afterEach(() => ctx.close());

describe('a task through the store', () => {
  test('enqueue → lease → a 500 → retry in due → released back to ready', async () => {
    const { redis, keys, store } = ctx;
    const plan = [{ name: 'default', quota: 1 }];

    await enqueue(store, 'task-a');

    const [entry] = (await store.lease('worker-a', plan)).entries;
    if (!entry) throw new Error('nothing leased');
    const lease = decided(entry.task, leaseCommand('worker-a'), T0 + 100, { entryId: entry.entryId });
    expect(await store.commit([lease.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
    expect(await holders(redis, keys, 'default')).toEqual({ [entry.entryId]: 'worker-a' });

    const attempt = decided(lease.after, attemptCommand(lease.after, 500), T0 + 300, { entryId: entry.entryId });
    expect(await store.commit([attempt.commit], 'worker-a')).toEqual([{ kind: 'ok' }]);
    const retryAt = T0 + 300 + RETRY.minBackoffMs;
    expect(await dueSet(redis, keys)).toEqual([{ taskId: 'task-a', dueAt: retryAt }]);
    expect(await readyEntries(redis, keys, 'default')).toEqual([]);
    expect(await holders(redis, keys, 'default')).toEqual({});
    expect((await store.lease('worker-a', plan)).entries).toEqual([]);

    expect(await store.due(retryAt - 1, 10)).toEqual({ tasks: [], next: retryAt });
    const { tasks, next } = await store.due(retryAt, 10);
    expect(next).toBeNull();
    expect(tasks.map((s) => s.task)).toEqual([attempt.after]);
    const [retrying] = tasks;
    if (!retrying) throw new Error('nothing due');
    const release = decided(retrying.task, { type: 'ReleaseDue', data: {} }, retryAt);
    expect(await store.commit([release.commit])).toEqual([{ kind: 'ok' }]);
    expect(await dueSet(redis, keys)).toEqual([]);
    expect((await readyEntries(redis, keys, 'default')).map((r) => r.taskId)).toEqual(['task-a']);

    const [again] = (await store.lease('worker-b', plan)).entries;
    expect(again?.task).toEqual(release.after);

    const snapshot = await store.load('task-a');
    expect(snapshot?.request).toEqual(REQUEST);
    expect(snapshot?.events.map((e) => [e.version, e.type])).toEqual([
      [1, 'enqueued'],
      [2, 'leased'],
      [3, 'attempted'],
      [4, 'retry_scheduled'],
      [5, 'released'],
    ]);
    expect(snapshot?.task).toMatchObject({
      id: 'task-a',
      status: 'pending',
      version: 5,
      queue: 'default',
      attempts: 1,
      executions: 0,
      dueAt: null,
      workerId: null,
      lastResponse: { status: 500, latencyMs: 12, error: null },
      createdAt: T0,
      updatedAt: retryAt,
    });
    expect(snapshot?.events[3]).toMatchObject({ data: { attempt: 2, dueAt: retryAt, backoffMs: RETRY.minBackoffMs } });
    expect((await ledger(redis, keys)).map(({ id, e }) => ({ id, e }))).toEqual(
      snapshot?.events.map((e) => ({ id: 'task-a', e: encodeEvent(e) })),
    );
  });
});
