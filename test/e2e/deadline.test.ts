import { afterAll, beforeAll, expect, test } from 'vitest';
import { TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/** One deadline covers the whole attempt: a target that never answers is a failed attempt, then retried. */
let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
beforeAll(async () => {
  let calls = 0;
  target = await startTarget((_req, res) => {
    calls++;
    if (calls === 1) return; // the first call hangs: never answered
    answer(res, 200);
  });
  service = await startService({ attemptTimeoutMs: 300, retry: { maxRetries: 2, minBackoffMs: 50, maxBackoffMs: 50 } });
});
afterAll(async () => {
  await service.stop();
  await target.close();
});

test('an attempt that outlives its deadline fails with the deadline as its error, and the retry succeeds', async () => {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/enqueue',
    payload: { client_id: 'deadline-test', task: { url: `${target.url}/hang` } },
  });
  const id = res.json().task_id as string;
  let snap = await service.store.load(id);
  for (let i = 0; i < 100 && !(snap && TERMINAL_STATUSES.has(snap.task.status)); i++) {
    await new Promise((r) => setTimeout(r, 50));
    snap = await service.store.load(id);
  }
  expect(snap?.task.status).toBe('succeeded');
  const attempts = snap?.events.filter((e) => e.type === 'attempted').map((e) => e.data) ?? [];
  expect(attempts).toEqual([
    expect.objectContaining({ attempt: 1, status: null, error: 'deadline of 300 ms exceeded' }),
    expect.objectContaining({ attempt: 2, status: 200, error: null }),
  ]);
  expect(attempts[0]?.latencyMs).toBeGreaterThanOrEqual(295);
  expect(attempts[0]?.latencyMs).toBeLessThan(2000);
});
