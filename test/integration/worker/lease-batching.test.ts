import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, expect, test } from 'vitest';
import { createHttpDispatcher } from '../../../src/adapters/http/dispatcher.ts';
import type { RedisTaskStore } from '../../../src/adapters/redis/task-store.ts';
import { Processor } from '../../../src/adapters/worker/processor.ts';
import { parseTargetAllowlist } from '../../../src/domain/net/target-policy.ts';
import { defaultQueues } from '../../../src/domain/queue/queue.ts';
import { enqueue } from '../../support/commits.ts';
import { answer, startTarget } from '../../support/http-target.ts';
import { redisUrl, testStore } from '../../support/store.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Counts the lease script calls the processor makes, and how many entries each one asked for. */
const countingLeases = (store: RedisTaskStore) => {
  const asked: number[] = [];
  const lease = store.lease.bind(store);
  store.lease = (consumer, plan, limits) => {
    asked.push(plan.reduce((n, p) => n + p.quota, 0));
    return lease(consumer, plan, limits);
  };
  return asked;
};

test('under load a worker leases for several freed slots at once, not one lease per finished call', async () => {
  const ctx = testStore();
  cleanups.push(ctx.close);
  // calls end one at a time: each takes a different few milliseconds
  let n = 0;
  const target = await startTarget((_req, res) => {
    setTimeout(() => answer(res, 200), 2 + (n++ % 7));
  });
  cleanups.push(target.close);
  const TASKS = 400;
  const CONCURRENCY = 20;
  const queues = defaultQueues({ maxRetries: 0, minBackoffMs: 1000, maxBackoffMs: 1000 }, 10_000);
  await ctx.store.ensureQueues(queues.map((q) => q.name));
  for (let i = 0; i < TASKS; i++) {
    await enqueue(ctx.store, `batched-${i}`, {
      request: { url: `${target.url}/${i}`, method: 'POST', headers: {}, body: '' },
    });
  }
  const asked = countingLeases(ctx.store);
  const http = createHttpDispatcher({ targets: { allowPrivate: true, allowlist: parseTargetAllowlist('') } });
  const blocking = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const processor = new Processor({
    store: ctx.store,
    blocking,
    dispatch: http.dispatch,
    queues,
    workerId: 'batching-worker',
    concurrency: CONCURRENCY,
    leaseMs: 30_000,
    log: pino({ level: 'silent' }),
    blockMs: 100,
  });
  await processor.start();
  cleanups.push(async () => {
    await processor.stop(5_000);
    await http.close();
    await blocking.quit();
  });

  for (let i = 0; i < 400 && target.received.length < TASKS; i++) await new Promise((r) => setTimeout(r, 25));
  expect(target.received).toHaveLength(TASKS);
  // leasing as soon as any slot is free took about 155 lease calls here (2.5 slots each on average); waiting a
  // moment for a fifth of the slots takes about 85 (4 to 5 each)
  expect(asked.length).toBeLessThan(110);
  const afterTheFirst = asked.slice(1).filter((q) => q > 0);
  const mean = afterTheFirst.reduce((a, b) => a + b, 0) / afterTheFirst.length;
  expect(mean).toBeGreaterThanOrEqual(3);
}, 60_000);
