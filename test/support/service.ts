import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createHttpDispatcher } from '../../src/adapters/http/dispatcher.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { Processor } from '../../src/adapters/worker/processor.ts';
import { Promoter } from '../../src/adapters/worker/promoter.ts';
import { buildApp } from '../../src/api/app.ts';
import { defaultQueues } from '../../src/domain/queue/queue.ts';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import { redisUrl } from './store.ts';

export type ServiceOptions = {
  retry?: RetryPolicy;
  concurrency?: number;
  leaseMs?: number;
  attemptTimeoutMs?: number;
};

/** The whole service in this process (API + worker + promoter) on the test redis-server, under its own prefix. */
export const startService = async (options: ServiceOptions = {}) => {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const keys = redisKeys(`t-${randomUUID()}`);
  const connect = () => new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const [main, worker, blocking, subscriber] = [connect(), connect(), connect(), connect()];
  const queues = defaultQueues(
    options.retry ?? { maxRetries: 5, minBackoffMs: 1000, maxBackoffMs: 3_600_000 },
    options.attemptTimeoutMs ?? 30_000,
  );
  const store = new RedisTaskStore(main, keys);
  const workerStore = new RedisTaskStore(worker, keys);
  const app = await buildApp({ store, queueNames: queues.map((q) => q.name), log });
  const http = createHttpDispatcher();
  const processor = new Processor({
    store: workerStore,
    blocking,
    dispatch: http.dispatch,
    queues,
    workerId: `test-worker-${randomUUID().slice(0, 8)}`,
    concurrency: options.concurrency ?? 10,
    leaseMs: options.leaseMs ?? 30_000,
    log,
    blockMs: 200,
  });
  const promoter = new Promoter({ store: workerStore, subscriber, log });
  await processor.start();
  await promoter.start();
  return {
    app,
    store,
    keys,
    redis: main,
    queues,
    stop: async () => {
      await processor.stop(5000);
      await promoter.stop();
      await app.close();
      await http.close();
      await Promise.all([main, worker, blocking, subscriber].map((c) => c.quit()));
    },
  };
};
