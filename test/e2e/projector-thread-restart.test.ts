import { afterEach, expect, test } from 'vitest';
import { loadConfig } from '../../src/adapters/config/env.ts';
import { createLogger } from '../../src/adapters/logging/logger.ts';
import { projectionLags } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../../src/projections/index.ts';
import { startProjectorThread } from '../../src/projections/projector-thread.ts';
import { statusCounts } from '../../src/projections/read-models.ts';
import { eventually } from '../support/child-service.ts';
import { finishTask } from '../support/finished-tasks.ts';
import { redisUrl, testStore } from '../support/store.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('a projector thread that dies is started again, and the new one projects what came meanwhile', async () => {
  const { store, redis, keys, prefix, close } = testStore();
  cleanups.push(close);
  await store.ensureQueues(['default']);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  // a short lock, so that the new thread does not wait long for the dead one's locks to expire
  const config = loadConfig({
    MODE: 'worker',
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    PROJECTION_LOCK_SEC: '1',
    LOG_LEVEL: 'warn',
  });
  const projector = startProjectorThread(config, log);
  cleanups.push(() => projector.stop());

  const lags = async () => (await projectionLags(redis, keys, PROJECTION_NAMES)).map((l) => l.lag);
  const succeeded = async () => (await statusCounts(redis, keys, { queue: 'default' })).succeeded;
  await finishTask(store, 'before', 'succeeded', Date.now());
  await eventually(succeeded, (n) => n === 1);

  const first = projector.current();
  // ends the thread as a crash would: no stop message, the projector gets no chance to release its locks
  await first.terminate();
  await finishTask(store, 'while-down', 'succeeded', Date.now());
  await finishTask(store, 'after', 'succeeded', Date.now());

  await eventually(succeeded, (n) => n === 3);
  await eventually(lags, (l) => l.every((n) => n === 0));
  expect(projector.current()).not.toBe(first);
  expect(projector.current().threadId).toBeGreaterThan(0);
  expect(lines.find((l) => String(l.msg).startsWith('projector thread exited'))).toMatchObject({ level: 50 });
});
