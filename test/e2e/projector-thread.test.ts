import { afterEach, expect, test } from 'vitest';
import { projectionLags } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../../src/projections/index.ts';
import { statusCounts } from '../../src/projections/read-models.ts';
import { eventually, spawnService } from '../support/child-service.ts';
import { finishTask } from '../support/finished-tasks.ts';
import { redisUrl, testStore } from '../support/store.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('a worker process projects the ledger in its projector thread, and releases its locks on SIGTERM', async () => {
  const { store, redis, keys, prefix, close } = testStore();
  cleanups.push(close);
  await store.ensureQueues(['default']);
  for (const id of ['done-a', 'done-b', 'done-c']) await finishTask(store, id, 'succeeded', Date.now());

  const worker = spawnService({ MODE: 'worker', REDIS_URL: redisUrl(), REDIS_PREFIX: prefix });
  cleanups.push(() => {
    if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    return worker.exited;
  });

  const lags = async () => (await projectionLags(redis, keys, PROJECTION_NAMES)).map((l) => l.lag);
  await eventually(lags, (l) => l.every((n) => n === 0));
  expect((await statusCounts(redis, keys, { queue: 'default' })).succeeded).toBe(3);
  // the thread's logger and connections are its own: it logs as the projector and names its connections so
  const projecting = await worker.waitForLog((l) => l.msg === 'projecting' && l.component === 'projector');
  expect(projecting.projection).toBeDefined();
  const names = String(await redis.client('LIST'))
    .split('\n')
    .map((line) => / name=(\S*)/.exec(line)?.[1]);
  expect(names).toEqual(expect.arrayContaining(['td-projector', 'td-projector-blocking']));
  for (const name of PROJECTION_NAMES) expect(await redis.exists(keys.projectionLock(name, 1))).toBe(1);

  worker.process.kill('SIGTERM');
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  // the thread stopped its projector before the process exited: the locks are released, not left to expire
  for (const name of PROJECTION_NAMES) expect(await redis.exists(keys.projectionLock(name, 1))).toBe(0);
});
