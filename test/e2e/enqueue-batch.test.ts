import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../src/api/app.ts';
import { redisUrl, silentLog, testStore } from '../support/store.ts';

/** POST /v1/enqueue:batch: many enqueues in one request, each accepted or rejected on its own. */
const QUEUES = ['critical', 'default', 'low'];
const NOW = Date.UTC(2026, 0, 1);

let ctx: ReturnType<typeof testStore>;
let app: Awaited<ReturnType<typeof buildApp>>;
beforeAll(async () => {
  ctx = testStore();
  app = await buildApp({ store: ctx.store, queueNames: QUEUES, log: silentLog, now: () => NOW, authMode: 'open' });
});
afterAll(async () => {
  await app.close();
  await ctx.close();
});
beforeEach(async () => {
  const keys = await ctx.redis.keys(`${ctx.prefix}:*`);
  if (keys.length > 0) await ctx.redis.del(...keys);
});

const batch = (payload: unknown) =>
  app.inject({
    method: 'POST',
    url: '/v1/enqueue:batch',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
const single = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/enqueue', payload: payload as object });

const valid = (i: number, extra: Record<string, unknown> = {}) => ({
  client_id: `client-${i}`,
  queue: QUEUES[i % 3],
  task: { url: `http://target.test/${i}`, body: JSON.stringify({ i }) },
  ...extra,
});

const ledgerLength = () => ctx.redis.xlen(ctx.keys.events);
const readyIds = async (queue: string) =>
  (await ctx.redis.xrange(ctx.keys.ready(queue), '-', '+')).map(([, fields]) => fields[1]);
const historyOf = async (id: string) =>
  (await app.inject({ method: 'GET', url: `/v1/tasks/${id}/history` })).json().events;

describe('routing', () => {
  test('the literal colon path reaches the batch route, and /v1/enqueue still reaches the single one', async () => {
    const b = await batch({ tasks: [valid(0)] });
    expect(b.statusCode).toBe(200);
    expect(b.json()).toMatchObject({ results: [{ status: 'enqueued' }] });

    const s = await single(valid(1));
    expect(s.statusCode).toBe(200);
    expect(s.json()).toMatchObject({ status: 'enqueued', client_id: 'client-1', queue: 'default' });

    // the colon is not a parameter: other suffixes are unknown routes
    const other = await app.inject({ method: 'POST', url: '/v1/enqueue:other', payload: { tasks: [valid(2)] } });
    expect(other.statusCode).toBe(404);
    expect(await ledgerLength()).toBe(2);
  });
});

describe('per-item results', () => {
  test('mixed valid and invalid items: results in order, only the valid ones written where the single endpoint puts them', async () => {
    const items = [
      valid(0),
      { client_id: 'x', task: { url: 'ftp://nope' } },
      valid(1, { delay: 30 }),
      valid(2, { dealy: 5 }),
      'not an object',
      valid(4, { queue: 'low', delay: 0 }),
    ];
    const res = await batch({ tasks: items });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results).toHaveLength(items.length);

    expect(results[0]).toEqual({
      status: 'enqueued',
      task_id: expect.any(String),
      queue: 'critical',
      client_id: 'client-0',
    });
    expect(results[1]).toEqual({
      status: 'rejected',
      error: 'invalid_request',
      message: expect.stringContaining('task.url: expected'),
      errors: [
        { field: 'client_id', expected: expect.any(String) },
        { field: 'task.url', expected: expect.any(String) },
      ],
    });
    expect(results[2]).toMatchObject({ status: 'enqueued', queue: 'default', client_id: 'client-1' });
    expect(results[3]).toMatchObject({
      status: 'rejected',
      error: 'invalid_request',
      errors: [{ field: 'dealy', expected: expect.stringContaining('no such field') }],
    });
    expect(results[4]).toMatchObject({
      status: 'rejected',
      error: 'invalid_request',
      errors: [{ field: '(body)', expected: 'a JSON object' }],
    });
    expect(results[5]).toMatchObject({ status: 'enqueued', queue: 'low', client_id: 'client-4' });

    const [a, b, c] = [results[0].task_id, results[2].task_id, results[5].task_id];
    // three tasks: two ready ones (enqueued) and a delayed one (enqueued + scheduled)
    expect(await ledgerLength()).toBe(4);
    expect(await ctx.redis.keys(`${ctx.keys.taskPrefix}*`)).toHaveLength(3);
    for (const id of [a, b, c]) expect(await ctx.store.load(id)).not.toBeNull();

    expect((await ctx.store.load(a))?.task).toMatchObject({ status: 'pending', queue: 'critical' });
    expect((await ctx.store.load(b))?.task).toMatchObject({ status: 'scheduled', queue: 'default' });
    expect((await ctx.store.load(c))?.task).toMatchObject({ status: 'pending', queue: 'low' });
    expect((await ctx.store.load(a))?.request).toEqual({
      url: 'http://target.test/0',
      method: 'POST',
      headers: {},
      body: '{"i":0}',
    });

    expect(await readyIds('critical')).toEqual([a]);
    expect(await readyIds('low')).toEqual([c]);
    expect(await readyIds('default')).toEqual([]);
    expect(await ctx.redis.zrange(ctx.keys.due, '0', '-1', 'WITHSCORES')).toEqual([b, String(NOW + 30_000)]);
  });

  test('an item over 1 MB is rejected as payload_too_large while the others are accepted', async () => {
    const big = { client_id: 'big-one', task: { url: 'http://target.test/big', body: 'b'.repeat(1024 * 1024) } };
    const res = await batch({ tasks: [valid(0), big, valid(1)] });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { status: string }) => r.status)).toEqual(['enqueued', 'rejected', 'enqueued']);
    expect(results[1]).toEqual({
      status: 'rejected',
      error: 'payload_too_large',
      message: expect.any(String),
      errors: [{ field: 'task', expected: 'at most 1 MB of url, headers and body' }],
    });
    expect(await ledgerLength()).toBe(2);
    expect(await ctx.redis.keys(`${ctx.keys.taskPrefix}*`)).toHaveLength(2);
  });

  test("the accepted tasks' histories equal what the single endpoint produces", async () => {
    const bodies = [valid(0), valid(1, { delay: 5 }), valid(2, { delay: 2_592_000, task: { url: 'http://x.test/' } })];
    const fromBatch = (await batch({ tasks: bodies })).json().results.map((r: { task_id: string }) => r.task_id);
    const fromSingle = [];
    for (const body of bodies) fromSingle.push((await single(body)).json().task_id);
    for (const [i, id] of fromBatch.entries()) {
      const events = await historyOf(id);
      expect(events).toEqual(await historyOf(fromSingle[i]));
      expect(events.map((e: { type: string }) => e.type)).toEqual(i === 0 ? ['enqueued'] : ['enqueued', 'scheduled']);
    }
    expect(await ledgerLength()).toBe(2 * 5);
  });

  test('1,000 items are accepted in one call, with one commit', async () => {
    const commit = ctx.store.commit.bind(ctx.store);
    const calls: number[] = [];
    ctx.store.commit = (commits, consumer) => {
      calls.push(commits.length);
      return commit(commits, consumer);
    };
    try {
      const res = await batch({ tasks: Array.from({ length: 1000 }, (_, i) => valid(i)) });
      expect(res.statusCode).toBe(200);
      const { results } = res.json();
      expect(results).toHaveLength(1000);
      expect(results.every((r: { status: string }) => r.status === 'enqueued')).toBe(true);
      expect(results.map((r: { client_id: string }) => r.client_id)).toEqual(
        Array.from({ length: 1000 }, (_, i) => `client-${i}`),
      );
      expect(new Set(results.map((r: { task_id: string }) => r.task_id)).size).toBe(1000);
      expect(calls).toEqual([1000]);
    } finally {
      ctx.store.commit = commit;
    }
    expect(await ledgerLength()).toBe(1000);
    const ready = await Promise.all(QUEUES.map(readyIds));
    expect(ready.map((ids) => ids.length)).toEqual([334, 333, 333]);
  });
});

describe('the envelope', () => {
  test.each([
    ['0 items', { tasks: [] }],
    ['1,001 items', { tasks: Array.from({ length: 1001 }, (_, i) => valid(i)) }],
    ['tasks as an object', { tasks: valid(0) }],
    ['tasks as a string', { tasks: 'x' }],
    ['no tasks', {}],
    ['a JSON array', [valid(0)]],
    ['null', null],
  ])('%s answers 400 naming tasks, and writes nothing', async (_, payload) => {
    const res = await batch(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: 'invalid_request',
      message: expect.stringContaining('tasks: expected an array of 1 to 1000'),
      errors: expect.arrayContaining([{ field: 'tasks', expected: 'an array of 1 to 1000 enqueue requests' }]),
    });
    expect(await ctx.redis.keys(`${ctx.prefix}:*`)).toEqual([]);
  });

  test('unknown top-level fields are refused, as in the single endpoint', async () => {
    const res = await batch({ tasks: [valid(0)], task: [] });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'task', expected: 'no such field; expected only tasks' }]);
    expect(await ctx.redis.keys(`${ctx.prefix}:*`)).toEqual([]);
  });

  test('a body that is not JSON is 400, a body over 16 MB is 413', async () => {
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/enqueue:batch',
      headers: { 'content-type': 'application/json' },
      payload: '{"tasks":[',
    });
    expect(broken.statusCode).toBe(400);
    const huge = await app.inject({
      method: 'POST',
      url: '/v1/enqueue:batch',
      headers: { 'content-type': 'application/json' },
      payload: `{"tasks":["${'a'.repeat(17 * 1024 * 1024)}"]}`,
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ error: 'payload_too_large' });
    expect(await ctx.redis.keys(`${ctx.prefix}:*`)).toEqual([]);
  });
});

test('a Redis failure answers 503 for the whole request', async () => {
  // never connected, no offline queue: every command fails at once
  const redis = new Redis(redisUrl(), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  const down = await buildApp({
    store: new RedisTaskStore(redis, ctx.keys),
    queueNames: QUEUES,
    log: silentLog,
    authMode: 'open',
  });
  try {
    const res = await down.inject({
      method: 'POST',
      url: '/v1/enqueue:batch',
      payload: { tasks: [valid(0), { client_id: 'x' }] },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ error: 'unavailable' });
  } finally {
    await down.close();
    redis.disconnect();
  }
});
