import type { Redis } from 'ioredis';
import type { QueueConfig } from '../../domain/queue/queue.ts';
import { createHttpDispatcher } from '../http/dispatcher.ts';
import type { Logger } from '../logging/logger.ts';
import type { InFlightLimits } from '../redis/in-flight.ts';
import type { Keys } from '../redis/keys.ts';
import { RedisTaskStore } from '../redis/task-store.ts';
import { Processor } from './processor.ts';
import { Promoter } from './promoter.ts';

export type WorkerOptions = Readonly<{
  /** Three connections of the worker's own: commands, the blocking wait for work, the wake subscription. */
  redis: Readonly<{ commands: Redis; blocking: Redis; subscriber: Redis }>;
  keys: Keys;
  queues: readonly QueueConfig[];
  workerId: string;
  concurrency: number;
  leaseMs: number;
  log: Logger;
  blockMs?: number;
  inFlightLimits?: InFlightLimits;
}>;

export type RunningWorker = Readonly<{
  /** Shutdown order: drain the processor (calls in flight finish) → stop the promoter → close HTTP. */
  stops: readonly [string, (graceMs: number) => Promise<void>][];
}>;

/** Starts a worker: the processor (lease, dispatch, record) and the promoter (release due tasks). */
export const startWorker = async (o: WorkerOptions): Promise<RunningWorker> => {
  const store = new RedisTaskStore(o.redis.commands, o.keys);
  const http = createHttpDispatcher();
  const processor = new Processor({
    store,
    blocking: o.redis.blocking,
    dispatch: http.dispatch,
    queues: o.queues,
    workerId: o.workerId,
    concurrency: o.concurrency,
    leaseMs: o.leaseMs,
    log: o.log.child({ component: 'processor', workerId: o.workerId }),
    ...(o.blockMs === undefined ? {} : { blockMs: o.blockMs }),
    ...(o.inFlightLimits === undefined ? {} : { inFlightLimits: o.inFlightLimits }),
  });
  const promoter = new Promoter({ store, subscriber: o.redis.subscriber, log: o.log.child({ component: 'promoter' }) });
  await processor.start();
  await promoter.start();
  return {
    stops: [
      ['processor', (graceMs) => processor.stop(graceMs)],
      ['promoter', () => promoter.stop()],
      ['http dispatcher', () => http.close()],
    ],
  };
};
