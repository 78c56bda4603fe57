import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Config } from '../adapters/config/env.ts';
import { createLogger, type Logger } from '../adapters/logging/logger.ts';
import { createRedis } from '../adapters/redis/client.ts';
import { redisKeys } from '../adapters/redis/keys.ts';
import { PROJECTIONS } from './index.ts';
import { Projector } from './projector.ts';

/**
 * A worker process runs its projector in a thread of its own, with its own Redis connections: planning a batch of
 * 500 events takes milliseconds of CPU, which on the dispatch thread would delay every lease and commit reply
 * behind it, and its large script calls would queue ahead of them on a shared connection. The thread reads the
 * same config; it stops when the process does (`stop`), and is started again if it dies.
 */
type ThreadData = Readonly<{ config: Config }>;

const RESTART_MS = 1000;

export type ProjectorThread = Readonly<{
  stop: () => Promise<void>;
  /** The thread running now (a new one after each restart). */
  current: () => Worker;
}>;

export const startProjectorThread = (config: Config, log: Logger): ProjectorThread => {
  let stopping = false;
  let thread: Worker;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    thread = new Worker(new URL(import.meta.url), { workerData: { config } satisfies ThreadData });
    thread.on('error', (err) => log.error({ err }, 'projector thread failed'));
    thread.on('exit', (code) => {
      if (stopping) return;
      log.error({ code }, `projector thread exited; starting it again in ${RESTART_MS} ms`);
      timer = setTimeout(start, RESTART_MS);
    });
  };
  start();
  return {
    current: () => thread,
    stop: async () => {
      stopping = true;
      clearTimeout(timer);
      const exited = new Promise<void>((resolve) => {
        if (thread.threadId === -1) resolve();
        thread.once('exit', () => resolve());
      });
      thread.postMessage('stop');
      await exited;
    },
  };
};

const runInThread = () => {
  const { config } = workerData as ThreadData;
  const log = createLogger(config.LOG_LEVEL).child({ component: 'projector' });
  const redis = createRedis(config, 'worker', 'projector');
  const blocking = createRedis(config, 'worker', 'projector-blocking');
  const projector = new Projector({
    redis,
    blocking,
    keys: redisKeys(config.REDIS_PREFIX),
    projections: PROJECTIONS,
    log,
    batchSize: config.PROJECTION_BATCH_SIZE,
    lockMs: config.PROJECTION_LOCK_SEC * 1000,
  });
  projector.start();
  parentPort?.once('message', async () => {
    await projector.stop();
    await Promise.all([redis, blocking].map((c) => c.quit().catch(() => c.disconnect())));
    parentPort?.close();
  });
};

if (!isMainThread && (workerData as ThreadData | undefined)?.config) runInThread();
