import { afterAll, beforeAll, expect, test } from 'vitest';
import { eventually } from '../support/child-service.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/** A paused queue keeps accepting tasks but workers lease none of them until it is resumed; other queues flow. */
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

const enqueue = async (queue: string, path: string) => {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/enqueue',
    payload: { client_id: 'pause-test', queue, task: { url: `${target.url}/${path}` } },
  });
  expect(res.statusCode).toBe(200);
};
const queueView = async (queue: string) => (await service.app.inject({ url: `/v1/queues/${queue}` })).json();
const delivered = (path: string) => target.received.filter((r) => r.path === `/${path}`).length;

test('pause holds a queue, the others flow, resume delivers the backlog', async () => {
  const paused = await service.app.inject({ method: 'POST', url: '/v1/queues/low/pause' });
  expect(paused.json()).toEqual({ name: 'low', paused: true });
  // a worker reads the paused set at most a second late
  await new Promise((r) => setTimeout(r, 1100));

  for (let i = 0; i < 5; i++) {
    await enqueue('low', 'low');
    await enqueue('default', 'default');
  }
  await eventually(
    async () => delivered('default'),
    (n) => n === 5,
  );
  // the default tasks got through while low was paused: had low flowed, it would have been delivered too
  await new Promise((r) => setTimeout(r, 500));
  expect(delivered('low')).toBe(0);
  const held = await eventually(
    () => queueView('low'),
    (q) => q.counts.pending === 5,
  );
  expect(held.paused).toBe(true);
  expect(held.oldest_pending_age_ms).toBeGreaterThan(0);

  const resumed = await service.app.inject({ method: 'POST', url: '/v1/queues/low/resume' });
  expect(resumed.json()).toEqual({ name: 'low', paused: false });
  await eventually(
    async () => delivered('low'),
    (n) => n === 5,
  );
  const after = await eventually(
    () => queueView('low'),
    (q) => q.counts.succeeded === 5,
  );
  expect(after.paused).toBe(false);
});

test('pausing an unknown queue answers 404 and pauses nothing', async () => {
  const res = await service.app.inject({ method: 'POST', url: '/v1/queues/nope/pause' });
  expect(res.statusCode).toBe(404);
  expect(await service.store.pausedQueues()).toEqual(new Set());
});
