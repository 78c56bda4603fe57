import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { InFlightLimits } from '../../src/adapters/redis/in-flight.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { type RunningWorker, startWorker } from '../../src/adapters/worker/worker.ts';
import { buildApp } from '../../src/api/app.ts';
import { defaultQueues } from '../../src/domain/queue/queue.ts';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import { PROJECTIONS } from '../../src/projections/index.ts';
import { Projector } from '../../src/projections/projector.ts';
import { redisUrl } from './store.ts';

export type ServiceOptions = {
  retry?: RetryPolicy;
  concurrency?: number;
  leaseMs?: number;
  attemptTimeoutMs?: number;
  adminKey?: string;
  projectorLockMs?: number;
  /** Tier limits the workers hold clients to (the lease script reads each client's tier from Redis). */
  inFlightLimits?: InFlightLimits;
  /** Worker instances sharing this service's Redis, as separate worker processes would (default 1). */
  workers?: number;
};

/** The whole service in this process (API + worker + promoter) on the test redis-server, under its own prefix. */
export const startService = async (options: ServiceOptions = {}) => {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const keys = redisKeys(`t-${randomUUID()}`);
  const connect = () => new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const [main, workerRedis, blocking, subscriber, projectorBlocking] = [
    connect(),
    connect(),
    connect(),
    connect(),
    connect(),
  ];
  const queues = defaultQueues(
    options.retry ?? { maxRetries: 5, minBackoffMs: 1000, maxBackoffMs: 3_600_000 },
    options.attemptTimeoutMs ?? 30_000,
  );
  const store = new RedisTaskStore(main, keys);
  const app = await buildApp({
    store,
    queueNames: queues.map((q) => q.name),
    log,
    ...(options.adminKey === undefined ? {} : { adminKey: options.adminKey }),
  });
  const extraConnections: Redis[] = [];
  const workers: RunningWorker[] = [];
  for (let i = 0; i < (options.workers ?? 1); i++) {
    const own =
      i === 0
        ? { commands: workerRedis, blocking, subscriber }
        : { commands: connect(), blocking: connect(), subscriber: connect() };
    if (i > 0) extraConnections.push(own.commands, own.blocking, own.subscriber);
    workers.push(
      await startWorker({
        redis: own,
        keys,
        queues,
        workerId: `test-worker-${randomUUID().slice(0, 8)}`,
        concurrency: options.concurrency ?? 10,
        leaseMs: options.leaseMs ?? 30_000,
        log,
        blockMs: 200,
        ...(options.inFlightLimits === undefined ? {} : { inFlightLimits: options.inFlightLimits }),
      }),
    );
  }
  const projector = new Projector({
    redis: workerRedis,
    blocking: projectorBlocking,
    keys,
    projections: PROJECTIONS,
    log,
    idleWaitMs: 200,
    lockMs: options.projectorLockMs ?? 10_000,
    retiredGraceMs: 200,
  });
  projector.start();
  return {
    app,
    projector,
    store,
    keys,
    redis: main,
    queues,
    stop: async () => {
      for (const worker of workers) for (const [, stop] of worker.stops) await stop(5000);
      await projector.stop();
      await app.close();
      await Promise.all(
        [main, workerRedis, blocking, subscriber, projectorBlocking, ...extraConnections].map((c) => c.quit()),
      );
    },
  };
};
