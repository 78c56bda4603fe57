import { afterAll, beforeAll, expect, test } from 'vitest';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/**
 * A task whose history this build cannot read (written by a newer build, or corrupt) must not stop the
 * others: it is left where it is, untouched, and the rest are delivered.
 */
let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
beforeAll(async () => {
  target = await startTarget((_req, res) => answer(res, 200));
  service = await startService();
});
afterAll(async () => {
  await service.stop();
  await target.close();
});

test('an unreadable task stays put while the tasks around it are delivered', async () => {
  const { redis, keys } = service;
  const future = JSON.stringify({ t: 'enqueued', v: 1, at: Date.now(), s: 99, d: {} });
  await redis.hset(keys.task('from-the-future'), 'v', 1, 'h', future, 'r', '{}');
  const enqueue = async (path: string) => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: 'unreadable-test', task: { url: `${target.url}${path}` } },
    });
    return res.json().task_id as string;
  };
  const before = await enqueue('/before');
  await redis.xadd(keys.ready('default'), '*', 'id', 'from-the-future');
  const after = await enqueue('/after');
  await redis.zadd(keys.due, Date.now() - 1000, 'from-the-future');

  const done = async () =>
    (await Promise.all([before, after].map((id) => service.store.load(id)))).every(
      (s) => s?.task.status === 'succeeded',
    );
  for (let i = 0; i < 100 && !(await done()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(target.received.map((r) => r.path).sort()).toEqual(['/after', '/before']);
  for (const id of [before, after]) expect((await service.store.load(id))?.task.status).toBe('succeeded');
  expect(await redis.hget(keys.task('from-the-future'), 'h')).toBe(future);
  expect(await redis.zscore(keys.due, 'from-the-future')).not.toBeNull();
  const res = await service.app.inject({ method: 'GET', url: '/v1/tasks/from-the-future' });
  expect(res.statusCode).toBe(500);
});
