import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Recorded } from '../../src/domain/task/events.ts';
import { eventually } from '../support/child-service.ts';
import { answer, type Received, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/**
 * T7 of RELIABILITY.md: a 429 or 503 with Retry-After delays the next attempt at least that long (capped at the
 * queue's max backoff), whatever the shorter exponential backoff says; the throttled attempt still counts.
 * Asserted on the recorded retry (dueAt, backoffMs) and on when the retry actually reached the target.
 */
const RETRY = { maxRetries: 3, minBackoffMs: 100, maxBackoffMs: 3_000 };

let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
/** What each path answers first, before its retry succeeds. */
const firstAnswers = new Map<string, { status: number; retryAfter: () => string }>();
/** The HTTP date the /date path asked to wait until, in ms. */
let dateAsked = 0;

beforeAll(async () => {
  firstAnswers.set('/delta-429', { status: 429, retryAfter: () => '2' });
  firstAnswers.set('/delta-503', { status: 503, retryAfter: () => '2' });
  firstAnswers.set('/date-503', {
    status: 503,
    retryAfter: () => {
      // an HTTP date has whole seconds: two to three seconds from now
      dateAsked = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
      return new Date(dateAsked).toUTCString();
    },
  });
  firstAnswers.set('/capped-429', { status: 429, retryAfter: () => '3600' });
  const seen = new Set<string>();
  target = await startTarget((req, res) => {
    const first = firstAnswers.get(req.path);
    if (first && !seen.has(req.path)) {
      seen.add(req.path);
      res.setHeader('retry-after', first.retryAfter());
      return answer(res, first.status);
    }
    answer(res, 200);
  });
  service = await startService({ retry: RETRY });
});
afterAll(async () => {
  await service?.stop();
  await target?.close();
});

/** Enqueues one task per path at once, and waits until each has succeeded. */
const deliverAll = async (paths: readonly string[]): Promise<Map<string, Recorded[]>> => {
  const ids = await Promise.all(
    paths.map(async (path) => {
      const res = await service.app.inject({
        method: 'POST',
        url: '/v1/enqueue',
        payload: { client_id: 'retry-after', task: { url: `${target.url}${path}` } },
      });
      expect(res.statusCode, res.body).toBe(200);
      return [path, res.json().task_id as string] as const;
    }),
  );
  const histories = new Map<string, Recorded[]>();
  for (const [path, id] of ids) {
    const snap = await eventually(
      () => service.store.load(id),
      (s) => s?.task.status === 'succeeded' || s?.task.status === 'failed',
      20_000,
    );
    expect(snap?.task).toMatchObject({ status: 'succeeded', attempts: 2 });
    histories.set(path, snap?.events ?? []);
  }
  return histories;
};

const arrivals = (path: string): Received[] => target.received.filter((r) => r.path === path);

test('the next attempt waits for Retry-After (seconds or HTTP date), capped at the max backoff', {
  timeout: 30_000,
}, async () => {
  const histories = await deliverAll(['/delta-429', '/delta-503', '/date-503', '/capped-429']);
  const retryOf = (path: string) => {
    const events = histories.get(path) ?? [];
    const attempted = events.find((e) => e.type === 'attempted');
    const retry = events.find((e) => e.type === 'retry_scheduled');
    if (retry?.type !== 'retry_scheduled' || !attempted) throw new Error(`no retry recorded for ${path}`);
    return { attemptedAt: attempted.at, ...retry.data };
  };

  for (const path of ['/delta-429', '/delta-503']) {
    const retry = retryOf(path);
    expect(retry.backoffMs, path).toBe(2_000);
    expect(retry.dueAt - retry.attemptedAt, path).toBe(2_000);
    const [first, second] = arrivals(path);
    expect(second?.at ?? 0, path).toBeGreaterThanOrEqual(retry.dueAt);
    expect((second?.at ?? 0) - (first?.at ?? 0), path).toBeGreaterThanOrEqual(2_000);
  }

  const dated = retryOf('/date-503');
  expect(dated.dueAt).toBeGreaterThanOrEqual(dateAsked);
  expect(dated.backoffMs).toBeGreaterThan(RETRY.minBackoffMs * 2);
  expect(arrivals('/date-503')[1]?.at ?? 0).toBeGreaterThanOrEqual(dateAsked);

  const capped = retryOf('/capped-429');
  expect(capped.backoffMs).toBe(RETRY.maxBackoffMs);
  const [first, second] = arrivals('/capped-429');
  expect(second?.at ?? 0).toBeGreaterThanOrEqual(capped.dueAt);
  expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(RETRY.maxBackoffMs);
  // far less than the hour it asked for: the cap held (generous slack for a busy machine)
  expect((second?.at ?? 0) - (first?.at ?? 0)).toBeLessThan(60_000);

  const attempted = (histories.get('/delta-429') ?? []).filter((e) => e.type === 'attempted').map((e) => e.data);
  expect(attempted).toEqual([
    expect.objectContaining({ attempt: 1, status: 429, retryAfterMs: 2_000 }),
    expect.objectContaining({ attempt: 2, status: 200 }),
  ]);
});
