import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JITTER, nominalBackoffMs } from '../../src/domain/retry/backoff.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { type Task, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { answer, type Received, startTarget } from '../support/http-target.ts';
import { freePort } from '../support/redis-server.ts';
import { startService } from '../support/service.ts';

/**
 * 1,000 tasks across the three queues through the real API, worker and promoter, delivered to a real HTTP
 * target: most succeed at once, some are delayed, some fail then recover, some always fail (500 or a
 * refused connection). Every task must end succeeded or failed, with a complete, ordered history whose
 * retries follow the backoff.
 */
const retry = { maxRetries: 3, minBackoffMs: 100, maxBackoffMs: 400 };
const QUEUES = ['critical', 'default', 'low'] as const;

type Kind = 'ok' | 'delayed' | 'flaky' | 'failing' | 'refused';
const kindOf = (i: number): Kind => {
  if (i % 20 === 0) return 'delayed';
  if (i % 20 === 1 || i % 20 === 2 || i % 20 === 3) return 'flaky';
  if (i % 20 === 4) return 'failing';
  if (i % 40 === 5) return 'refused';
  return 'ok';
};
/** A flaky target answers 500 (or 503) to its first 1 or 2 calls, then 200. */
const flakyFailures = (i: number) => 1 + (i % 2);

let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
const tasks: { i: number; id: string; kind: Kind; queue: string; delay: number }[] = [];
const finals = new Map<string, { task: Task; events: Recorded[] }>();

beforeAll(async () => {
  const seen = new Map<string, number>();
  target = await startTarget((req, res) => {
    const [, kind, i] = req.path.split('/');
    const calls = (seen.get(req.path) ?? 0) + 1;
    seen.set(req.path, calls);
    if (kind === 'flaky') return answer(res, calls <= flakyFailures(Number(i)) ? (calls === 1 ? 500 : 503) : 200);
    if (kind === 'failing') return answer(res, 500, 'always down');
    return answer(res, 200, 'ok');
  });
  const closedPort = await freePort();
  service = await startService({ retry, concurrency: 50 });
  for (let i = 0; i < 1000; i++) {
    const kind = kindOf(i);
    const queue = QUEUES[i % 3] as string;
    const delay = kind === 'delayed' ? 1 + (i % 2) : 0;
    const url = kind === 'refused' ? `http://127.0.0.1:${closedPort}/refused/${i}` : `${target.url}/${kind}/${i}`;
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: `client-${i % 7}`, queue, delay, task: { url, body: JSON.stringify({ i }) } },
    });
    expect(res.statusCode).toBe(200);
    tasks.push({ i, id: res.json().task_id, kind, queue, delay });
  }
  const deadline = Date.now() + 60_000;
  while (finals.size < tasks.length && Date.now() < deadline) {
    for (const t of tasks) {
      if (finals.has(t.id)) continue;
      const snap = await service.store.load(t.id);
      if (snap && TERMINAL_STATUSES.has(snap.task.status)) finals.set(t.id, snap);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}, 90_000);

afterAll(async () => {
  await service?.stop();
  await target?.close();
});

const deliveriesOf = (i: number, kind: Kind): Received[] => target.received.filter((r) => r.path === `/${kind}/${i}`);

describe('1,000 tasks end to end', () => {
  test('every task ends succeeded or failed', () => {
    expect(finals.size).toBe(1000);
    for (const t of tasks) {
      const { task } = finals.get(t.id) ?? {};
      const expected = t.kind === 'failing' || t.kind === 'refused' ? 'failed' : 'succeeded';
      expect({ id: t.id, kind: t.kind, status: task?.status }).toEqual({ id: t.id, kind: t.kind, status: expected });
    }
  });

  test('attempts match the target: once when healthy, until recovery when flaky, 1 + MAX_RETRY when down', () => {
    for (const t of tasks) {
      const { task } = finals.get(t.id) ?? {};
      const expected = { ok: 1, delayed: 1, flaky: flakyFailures(t.i) + 1, failing: 4, refused: 4 }[t.kind];
      expect({ i: t.i, attempts: task?.attempts }).toEqual({ i: t.i, attempts: expected });
      if (t.kind !== 'refused') expect(deliveriesOf(t.i, t.kind)).toHaveLength(expected);
    }
  });

  test('each delivery carries the Cloud Tasks headers with its retry count', () => {
    for (const t of tasks.filter((x) => x.kind === 'flaky' || x.kind === 'failing')) {
      const calls = deliveriesOf(t.i, t.kind);
      calls.forEach((call, n) => {
        expect(call.headers['x-cloudtasks-queuename']).toBe(t.queue);
        expect(call.headers['x-cloudtasks-taskname']).toBe(t.id);
        expect(call.headers['x-cloudtasks-taskretrycount']).toBe(String(n));
        expect(call.body).toBe(JSON.stringify({ i: t.i }));
      });
    }
  });

  test('every history is complete and ordered', () => {
    const grammar =
      /^enqueued( scheduled released)?( leased attempted retry_scheduled released)* leased attempted (succeeded|failed)$/;
    for (const t of tasks) {
      const { events = [] } = finals.get(t.id) ?? {};
      expect(events.map((e) => e.type).join(' ')).toMatch(grammar);
      expect(events.map((e) => e.version)).toEqual(events.map((_, n) => n + 1));
      for (let n = 1; n < events.length; n++) expect(events[n]?.at).toBeGreaterThanOrEqual(events[n - 1]?.at ?? 0);
      const attempts = events.filter((e) => e.type === 'attempted').map((e) => e.data.attempt);
      expect(attempts).toEqual(attempts.map((_, n) => n + 1));
    }
  });

  test('retries follow the backoff and are never early', () => {
    let checked = 0;
    for (const t of tasks) {
      const { events = [] } = finals.get(t.id) ?? {};
      for (const [n, e] of events.entries()) {
        if (e.type !== 'retry_scheduled') continue;
        const retryNumber = e.data.attempt - 1;
        const nominal = nominalBackoffMs(retryNumber, retry);
        expect(e.data.backoffMs).toBeGreaterThanOrEqual(Math.max(retry.minBackoffMs, nominal * (1 - JITTER)) - 1);
        expect(e.data.backoffMs).toBeLessThanOrEqual(Math.min(retry.maxBackoffMs, nominal * (1 + JITTER)) + 1);
        expect(e.data.dueAt).toBe(e.at + e.data.backoffMs);
        const released = events[n + 1];
        expect(released?.type).toBe('released');
        expect(released?.at).toBeGreaterThanOrEqual(e.data.dueAt);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  test('delayed tasks are not delivered before their schedule time', () => {
    for (const t of tasks.filter((x) => x.kind === 'delayed')) {
      const { task } = finals.get(t.id) ?? {};
      const [first] = deliveriesOf(t.i, 'delayed');
      expect(task?.scheduleTime).toBe((task?.createdAt ?? 0) + t.delay * 1000);
      expect(first?.at).toBeGreaterThanOrEqual(task?.scheduleTime ?? Number.POSITIVE_INFINITY);
    }
  });

  test('the ledger holds every event of every task, in each task’s order', async () => {
    const entries = await service.redis.xrange(service.keys.events, '-', '+');
    const byTask = new Map<string, number[]>();
    for (const [, fields] of entries) {
      const id = fields[1] ?? '';
      byTask.set(id, [...(byTask.get(id) ?? []), JSON.parse(fields[3] ?? '{}').v]);
    }
    for (const t of tasks) {
      const { events = [] } = finals.get(t.id) ?? {};
      expect(byTask.get(t.id)).toEqual(events.map((e) => e.version));
    }
  });

  test('nothing is left leased, ready or due', async () => {
    for (const q of QUEUES) {
      const [count] = (await service.redis.xpending(service.keys.ready(q), service.keys.workerGroup)) as [number];
      expect(count).toBe(0);
      expect(await service.redis.xlen(service.keys.ready(q))).toBe(0);
    }
    expect(await service.redis.zcard(service.keys.due)).toBe(0);
  });
});
