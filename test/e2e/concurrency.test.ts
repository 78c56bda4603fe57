import { afterAll, beforeAll, expect, test } from 'vitest';
import { TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/** A worker never has more than WORKER_CONCURRENCY calls open, and with a backlog it uses all of them. */
let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
let open = 0;
let maxOpen = 0;
beforeAll(async () => {
  target = await startTarget((_req, res) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    setTimeout(() => {
      open--;
      answer(res, 200);
    }, 100);
  });
  service = await startService({ concurrency: 5 });
});
afterAll(async () => {
  await service.stop();
  await target.close();
});

test('at most WORKER_CONCURRENCY calls are in flight, and all of them are used under a backlog', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: {
        client_id: 'concurrency-test',
        queue: ['critical', 'default', 'low'][i % 3],
        task: { url: `${target.url}/${i}` },
      },
    });
    ids.push(res.json().task_id);
  }
  for (let i = 0; i < 200; i++) {
    const snaps = await Promise.all(ids.map((id) => service.store.load(id)));
    if (snaps.every((s) => s && TERMINAL_STATUSES.has(s.task.status))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(target.received).toHaveLength(30);
  expect(maxOpen).toBe(5);
});
