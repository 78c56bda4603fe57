import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterEach, expect, test } from 'vitest';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../src/api/app.ts';
import { type ChildService, eventually, spawnService } from '../support/child-service.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { redisUrl, testStore } from '../support/store.ts';

/**
 * Worker processes are real `node src/main.ts` processes (MODE=worker) that the test signals or kills;
 * tasks are enqueued through the API built in this process, against the same Redis and key prefix.
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = async () => {
  const prefix = `t-${randomUUID()}`;
  const { redis, close } = testStore(prefix);
  const store = new RedisTaskStore(redis, redisKeys(prefix));
  const app = await buildApp({
    store,
    queueNames: ['critical', 'default', 'low'],
    log: pino({ level: 'silent' }),
    authMode: 'open',
  });
  cleanups.push(close, () => app.close());
  const worker = (name: string, env: Record<string, string> = {}): ChildService => {
    const w = spawnService({
      MODE: 'worker',
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: prefix,
      WORKER_ID: name,
      LEASE_SEC: '1',
      ...env,
    });
    cleanups.push(() => {
      if (w.process.exitCode === null) w.process.kill('SIGKILL');
      return w.exited;
    });
    return w;
  };
  const enqueue = async (url: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: 'fault-test', task: { url } },
    });
    expect(res.statusCode).toBe(200);
    return res.json().task_id as string;
  };
  const history = async (id: string): Promise<Record<string, unknown>[]> =>
    ((await store.load(id))?.events ?? []).map((e) => ({ type: e.type, ...e.data }));
  return { store, worker, enqueue, history };
};

const started = (w: ChildService) => w.waitForLog((l) => l.msg === 'task dispatcher started');

test('a task whose worker is SIGKILLed mid-call is redelivered by another worker after its lease expires', async () => {
  const { worker, enqueue, history, store } = await setup();
  const held: ServerResponse[] = [];
  const target = await startTarget((_req, res) => {
    if (held.length === 0)
      held.push(res); // the first call never gets an answer from here
    else answer(res, 200);
  });
  cleanups.push(() => target.close());

  const a = worker('worker-a');
  await started(a);
  const id = await enqueue(`${target.url}/crash`);
  await eventually(
    async () => target.received.length,
    (n) => n === 1,
  );
  a.process.kill('SIGKILL');
  expect((await a.exited).signal).toBe('SIGKILL');

  const b = worker('worker-b');
  await started(b);
  const final = await eventually(
    () => store.load(id),
    (s) => s?.task.status === 'succeeded',
  );
  expect(final?.task.attempts).toBe(2);
  expect(await history(id)).toEqual([
    { type: 'enqueued', queue: 'default', clientId: 'fault-test', scheduleTime: expect.any(Number) },
    { type: 'leased', attempt: 1, workerId: 'worker-a' },
    { type: 'lease_expired', attempt: 1, workerId: 'worker-a', reclaimedBy: 'worker-b' },
    { type: 'leased', attempt: 2, workerId: 'worker-b' },
    { type: 'attempted', attempt: 2, workerId: 'worker-b', status: 200, latencyMs: expect.any(Number), error: null },
    { type: 'succeeded', attempt: 2 },
  ]);
  expect(target.received.map((r) => r.headers['x-cloudtasks-taskretrycount'])).toEqual(['0', '1']);
});

test('a worker that lost its lease while frozen cannot record its result', async () => {
  const { worker, enqueue, history, store } = await setup();
  const held: ServerResponse[] = [];
  const target = await startTarget((_req, res) => {
    held.push(res);
    if (held.length === 2) for (const r of held) answer(r, 200); // answer the frozen worker's call too
  });
  cleanups.push(() => target.close());

  const a = worker('worker-a');
  await started(a);
  const id = await enqueue(`${target.url}/freeze`);
  await eventually(
    async () => target.received.length,
    (n) => n === 1,
  );
  a.process.kill('SIGSTOP'); // its lease keeper stops too, so the lease expires
  cleanups.push(() => a.process.kill('SIGCONT'));

  const b = worker('worker-b');
  await started(b);
  await eventually(
    () => store.load(id),
    (s) => s?.task.status === 'succeeded',
  );
  a.process.kill('SIGCONT');
  // worker A now sees its 200; whichever path it takes (lease check or commit), the result is refused
  await a.waitForLog((l) => /lease/.test(String(l.msg)) && l.level === 40);
  const types = (await history(id)).map((e) => e.type);
  expect(types).toEqual(['enqueued', 'leased', 'lease_expired', 'leased', 'attempted', 'succeeded']);
  expect((await history(id)).filter((e) => e.type === 'attempted').map((e) => e.workerId)).toEqual(['worker-b']);
});

test('SIGTERM stops leasing and drains the call in flight before exiting', async () => {
  const { worker, enqueue, store } = await setup();
  let release: () => void = () => {};
  const target = await startTarget((req, res) => {
    if (req.path === '/slow') release = () => answer(res, 200);
    else answer(res, 200);
  });
  cleanups.push(() => target.close());

  const a = worker('worker-a', { LEASE_SEC: '30' });
  await started(a);
  const inFlight = await enqueue(`${target.url}/slow`);
  await eventually(
    async () => target.received.length,
    (n) => n === 1,
  );
  a.process.kill('SIGTERM');
  await a.waitForLog((l) => l.msg === 'stopped leasing; draining calls in flight');
  const enqueuedAfter = await enqueue(`${target.url}/after`);
  await new Promise((r) => setTimeout(r, 300));
  release();

  expect(await a.exited).toEqual({ code: 0, signal: null });
  expect((await store.load(inFlight))?.task.status).toBe('succeeded');
  expect((await store.load(enqueuedAfter))?.task.status).toBe('pending');
  expect(target.received.map((r) => r.path)).toEqual(['/slow']);
});

test('a call longer than the lease keeps its lease while its worker lives: no second worker takes it', async () => {
  const { worker, enqueue, history, store } = await setup();
  const target = await startTarget((_req, res) => {
    setTimeout(() => answer(res, 200), 3000); // three leases long
  });
  cleanups.push(() => target.close());

  const a = worker('worker-a');
  const b = worker('worker-b');
  await Promise.all([started(a), started(b)]);
  const id = await enqueue(`${target.url}/long`);
  const final = await eventually(
    () => store.load(id),
    (s) => s?.task.status === 'succeeded',
    10_000,
  );
  expect(final?.task.attempts).toBe(1);
  expect((await history(id)).map((e) => e.type)).toEqual(['enqueued', 'leased', 'attempted', 'succeeded']);
  expect(target.received).toHaveLength(1);
});
