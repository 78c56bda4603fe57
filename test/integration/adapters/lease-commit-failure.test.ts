import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import type { TaskCommit } from '../../../src/adapters/redis/placement.ts';
import { type CommitResult, RedisTaskStore, StorageError } from '../../../src/adapters/redis/task-store.ts';
import { Processor } from '../../../src/adapters/worker/processor.ts';
import { enqueueDecided, RETRY } from '../../support/commits.ts';
import { pendingEntries } from '../../support/redis-state.ts';
import { redisUrl, silentLog, testStore } from '../../support/store.ts';

/**
 * The lease loop does not wait for a lease's commit (Processor#takeAhead). When those commits fail while leasing
 * still works, the loop must back off as after a failed lease, not lease the whole queue into its pending list.
 * The failure is injected in the store (Redis itself is real): every commit of a `leased` event throws.
 */
class LeaseCommitsFail extends RedisTaskStore {
  leases = 0;
  override async lease(...args: Parameters<RedisTaskStore['lease']>) {
    this.leases++;
    return super.lease(...args);
  }
  override async commit(
    commits: readonly TaskCommit[],
    ...rest: [string?, { ownCommand?: boolean }?]
  ): Promise<CommitResult[]> {
    if (commits.some((c) => c.events.some((e) => e.type === 'leased'))) {
      throw new StorageError('injected: the lease commit fails');
    }
    return super.commit(commits, ...rest);
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('failing lease commits make the lease loop back off instead of leasing the queue empty', async () => {
  const ctx = testStore();
  cleanups.push(ctx.close);
  const store = new LeaseCommitsFail(ctx.redis, ctx.keys);
  await store.ensureQueues(['default']);
  const tasks = Array.from({ length: 200 }, (_, i) => enqueueDecided(`task-${i}`));
  await store.commit(tasks.map((t) => t.commit));

  const blocking = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  cleanups.push(async () => blocking.disconnect());
  let calls = 0;
  const processor = new Processor({
    store,
    blocking,
    dispatch: async () => {
      calls++;
      return { status: 200, latencyMs: 1, error: null };
    },
    queues: [{ name: 'default', weight: 1, retry: RETRY, attemptTimeoutMs: 5_000 }],
    workerId: 'worker-a',
    concurrency: 5,
    leaseMs: 60_000,
    log: silentLog,
  });
  await processor.start();
  await new Promise((r) => setTimeout(r, 1_000));
  await processor.stop(1_000);

  expect(calls).toBe(0); // no lease was committed, so no call was made
  // backing off 100, 200, 400, 800 ms after the first failures: a handful of leases of 5 in the second, not 40
  expect(store.leases).toBeGreaterThan(1);
  expect(store.leases).toBeLessThanOrEqual(8);
  expect((await pendingEntries(ctx.redis, ctx.keys, 'default')).length).toBe(5 * store.leases);
}, 20_000);
