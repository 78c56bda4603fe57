import { afterAll, expect, test } from 'vitest';
import { encodeEvent } from '../../../src/adapters/redis/codec.ts';
import { record } from '../../../src/domain/task/events.ts';
import { AsOfError, queueCountsAsOf } from '../../../src/projections/as-of.ts';
import { testStore } from '../../support/store.ts';

/** Counts at an instant are replayed from the ledger, so an instant older than what Redis still holds is refused. */
const { store, close } = testStore();
const { redis, keys } = store;
afterAll(close);

const enqueueAt = async (taskId: string, at: number) => {
  const [e] = record(taskId, 0, at, [
    { type: 'enqueued', data: { queue: 'default', clientId: 'c1', scheduleTime: at } },
  ]);
  return String(await redis.xadd(keys.events, `${at}-*`, 'id', taskId, 'e', encodeEvent(e as never)));
};

test('before the oldest retained event of a trimmed ledger: 422 before_retention; after it: replayed', async () => {
  const base = Date.now() - 60_000;
  await enqueueAt('task-a', base);
  const kept = await enqueueAt('task-b', base + 10_000);
  await enqueueAt('task-c', base + 20_000);

  // nothing trimmed yet: an early instant is simply before any task
  expect((await queueCountsAsOf(redis, keys, 'default', base - 1000, 1000)).counts.pending).toBe(0);

  await redis.xtrim(keys.events, 'MINID', kept);
  const refused = await queueCountsAsOf(redis, keys, 'default', base + 5_000, 1000).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(AsOfError);
  expect((refused as AsOfError).code).toBe('before_retention');

  const after = await queueCountsAsOf(redis, keys, 'default', base + 15_000, 1000);
  expect(after.counts.pending).toBe(1); // task-b only: task-a's events were trimmed
  expect(after.replayedEvents).toBe(1);
});
