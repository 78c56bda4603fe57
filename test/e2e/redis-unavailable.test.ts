import { afterEach, expect, test } from 'vitest';
import { loadConfig } from '../../src/adapters/config/env.ts';
import { connected, createRedis } from '../../src/adapters/redis/client.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../src/api/app.ts';
import { startRedisServer } from '../support/redis-server.ts';
import { silentLog } from '../support/store.ts';

/** The API on a redis-server of its own, so the test can stall or kill it. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = async () => {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  const config = loadConfig({ REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '300' });
  const redis = createRedis(config, 'api', 'test');
  redis.on('error', () => {});
  cleanups.push(() => redis.disconnect());
  await connected(redis);
  const keys = redisKeys('td');
  const store = new RedisTaskStore(redis, keys);
  const app = await buildApp({ store, queueNames: ['critical', 'default', 'low'], log: silentLog, authMode: 'open' });
  cleanups.push(() => app.close());
  const enqueue = () =>
    app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: 'outage-test', task: { url: 'http://127.0.0.1:9/never' } },
    });
  expect((await enqueue()).statusCode).toBe(200);
  return { server, redis, keys, app, enqueue };
};

/** Every task hash has exactly its ledger entries and its ready entry: nothing half-written. */
const assertWhole = async (redis: Awaited<ReturnType<typeof setup>>['redis'], keys: ReturnType<typeof redisKeys>) => {
  const tasks = await redis.keys(`${keys.taskPrefix}*`);
  const ledger = await redis.xrange(keys.events, '-', '+');
  const ready = await redis.xrange(keys.ready('default'), '-', '+');
  for (const key of tasks) {
    const id = key.slice(keys.taskPrefix.length);
    const [version, history, request] = await redis.hmget(key, 'v', 'h', 'r');
    expect(history?.split('\n')).toHaveLength(Number(version));
    expect(request).toBeTruthy();
    expect(ledger.filter(([, f]) => f[1] === id)).toHaveLength(Number(version));
    expect(ready.filter(([, f]) => f[1] === id)).toHaveLength(1);
  }
  expect(ledger).toHaveLength(tasks.length);
  return tasks.length;
};

test('a stalled Redis answers 503 within the command timeout, and leaves no task half-written', async () => {
  const { redis, keys, enqueue, server } = await setup();
  const admin = createRedis(loadConfig({ REDIS_URL: server.url }), 'worker', 'admin');
  cleanups.push(() => admin.disconnect());
  await admin.client('PAUSE', 1500, 'WRITE');
  const started = Date.now();
  const res = await enqueue();
  expect(res.statusCode).toBe(503);
  expect(res.headers['retry-after']).toBe('1');
  expect(res.json()).toMatchObject({ error: 'unavailable' });
  expect(Date.now() - started).toBeLessThan(1500);
  await admin.client('UNPAUSE');
  await new Promise((r) => setTimeout(r, 100));
  // the timed-out write may or may not have run after the pause: either way it is whole
  expect(await assertWhole(redis, keys)).toBeGreaterThanOrEqual(1);
});

test('a Redis that is down answers 503 on enqueue, reads and readiness, never 500', async () => {
  const { app, enqueue, server } = await setup();
  await server.stop();
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 3; i++) expect((await enqueue()).statusCode).toBe(503);
  expect((await app.inject({ method: 'GET', url: '/v1/tasks/0000' })).statusCode).toBe(503);
  expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
  expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
});
