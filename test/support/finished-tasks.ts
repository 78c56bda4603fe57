import { expect } from 'vitest';
import type { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { decided, enqueue, leaseCommand, RETRY } from './commits.ts';

export type Outcome = 'succeeded' | 'failed' | 'cancelled';

const WORKER = 'worker-t';

/**
 * A task that ends with `outcome` at `at + 2`: enqueued at `at` and leased and attempted once (200, or a 500 with no
 * retries left), or scheduled and cancelled (so no ready stream keeps an entry for it). The queue must hold no
 * other task, as this leases the queue's next entry.
 */
export const finishTask = async (
  store: RedisTaskStore,
  taskId: string,
  outcome: Outcome,
  at: number,
  queue = 'default',
): Promise<void> => {
  const enqueued = await enqueue(store, taskId, { queue, at, ...(outcome === 'cancelled' ? { delayMs: 60_000 } : {}) });
  if (outcome === 'cancelled') {
    const cancel = decided(enqueued.after, { type: 'CancelTask', data: { by: 'test' } }, at + 2);
    expect(await store.commit([cancel.commit])).toEqual([{ kind: 'ok' }]);
    return;
  }
  const [entry] = (await store.lease(WORKER, [{ name: queue, quota: 1 }])).entries;
  if (entry?.task.id !== taskId) throw new Error(`expected to lease ${taskId}, got ${entry?.task.id}`);
  const lease = decided(entry.task, leaseCommand(WORKER), at + 1, { entryId: entry.entryId });
  expect(await store.commit([lease.commit], WORKER)).toEqual([{ kind: 'ok' }]);
  const attempt = decided(
    lease.after,
    {
      type: 'RecordAttempt',
      data: {
        workerId: WORKER,
        attempt: 1,
        response: { status: outcome === 'succeeded' ? 200 : 500, latencyMs: 12, error: null },
        retry: { ...RETRY, maxRetries: 0 },
        random: 0.5,
      },
    },
    at + 2,
    { entryId: entry.entryId },
  );
  expect(attempt.after.status).toBe(outcome);
  expect(await store.commit([attempt.commit], WORKER)).toEqual([{ kind: 'ok' }]);
};
