import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { fold } from '../../src/domain/task/evolve.ts';
import { type Task, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { utcDay } from '../../src/projections/projection.ts';
import { STATUSES } from '../../src/projections/read-models.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { waitForProjections } from '../support/projection-state.ts';
import { startService } from '../support/service.ts';
import { silentLog } from '../support/store.ts';

/**
 * The read side through the real service: GET /v1/tasks (filters, cursor paging), /v1/queues, /v1/queues/:queue
 * (and as_of), /v1/clients/:id/stats, /v1/tasks/:id?as_of, parameter errors, and the admin API's key check.
 *
 * The workload leaves every status in place and still: phase A ends succeeded or failed (no retries); then
 * tasks delayed by an hour stay scheduled (a third of them cancelled), three calls the target never answers keep
 * the worker's three slots active, and the tasks enqueued after them stay pending.
 */
const QUEUES = ['critical', 'default', 'low'] as const;
const CLIENTS = ['client-a', 'client-b', 'client-c', 'client-d'] as const;
const ADMIN_KEY = 'read-api-admin-key';

let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
const held: ServerResponse[] = [];
const ids: string[] = [];
const phaseA: string[] = [];
/** Tasks left pending behind the hanging calls. */
const pending: string[] = [];
let betweenPhases = 0;
let cancelledId = '';
let cancelledAt = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field and checked by the assertions
type Json = any;

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await service.app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json() as Json };
};

const enqueue = async (items: { queue: string; clientId: string; path: string; delay?: number }[]) => {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/enqueue:batch',
    payload: {
      tasks: items.map((t) => ({
        client_id: t.clientId,
        queue: t.queue,
        delay: t.delay ?? 0,
        task: { url: `${target.url}${t.path}` },
      })),
    },
  });
  expect(res.statusCode).toBe(200);
  const out = (res.json() as { results: { task_id: string; status: string }[] }).results.map((r) => {
    expect(r.status).toBe('enqueued');
    return r.task_id;
  });
  ids.push(...out);
  return out;
};

/** Every task as its history folds now, by id. */
const truth = async (): Promise<Map<string, { task: Task; events: Recorded[] }>> => {
  const snaps = await service.store.loadMany(ids);
  return new Map(ids.map((id, i) => [id, snaps[i] as { task: Task; events: Recorded[] }]));
};

const newestFirst = (list: string[]) => [...list].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000) => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** Pages through GET /v1/tasks with `query`, calling `between` after each page; returns every id in order. */
const pageAll = async (query: string, limit: number, between?: (page: number) => Promise<void>) => {
  const out: { task_id: string; status: string; queue: string; client_id: string; created_at: string }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 500; page++) {
    const url: string = `/v1/tasks?${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await get(url);
    expect(res.status, url).toBe(200);
    expect(res.body.tasks.length).toBeLessThanOrEqual(limit);
    out.push(...res.body.tasks);
    cursor = res.body.next_cursor;
    if (cursor === null) return out;
    await between?.(page);
  }
  throw new Error('paging did not end');
};

beforeAll(async () => {
  target = await startTarget((req, res) => {
    if (req.path.startsWith('/hang')) held.push(res);
    else answer(res, req.path.startsWith('/fail') ? 500 : 200);
  });
  service = await startService({
    retry: { maxRetries: 0, minBackoffMs: 20, maxBackoffMs: 50 },
    concurrency: 3,
    attemptTimeoutMs: 120_000,
    adminKey: ADMIN_KEY,
  });

  // phase A: 90 tasks, one in five fails (no retries)
  for (let batch = 0; batch < 3; batch++) {
    const items = Array.from({ length: 30 }, (_, n) => {
      const i = batch * 30 + n;
      return {
        queue: QUEUES[i % 3] as string,
        clientId: CLIENTS[i % 4] as string,
        path: `/${i % 5 === 0 ? 'fail' : 'ok'}/${i}`,
      };
    });
    phaseA.push(...(await enqueue(items)));
    await sleep(5);
  }
  await waitFor('phase A to finish', async () =>
    [...(await truth()).values()].every((s) => TERMINAL_STATUSES.has(s.task.status)),
  );
  await sleep(50);
  betweenPhases = Date.now();
  await sleep(50);

  // phase B: 45 tasks delayed by an hour, every third cancelled; then three calls that hang, then 30 pending
  const delayed = await enqueue(
    Array.from({ length: 45 }, (_, i) => ({
      queue: QUEUES[i % 3] as string,
      clientId: CLIENTS[(i + 1) % 4] as string,
      path: `/ok/delayed-${i}`,
      delay: 3600,
    })),
  );
  await sleep(30);
  for (const [i, id] of delayed.entries()) {
    if (i % 3 !== 0) continue;
    const res = await service.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}` });
    expect(res.statusCode).toBe(200);
  }
  cancelledId = delayed[0] as string;
  cancelledAt = (await service.store.load(cancelledId))?.events.at(-1)?.at ?? 0;
  await enqueue([0, 1, 2].map((i) => ({ queue: 'critical', clientId: 'client-h', path: `/hang/${i}` })));
  await waitFor('three hanging calls', async () => held.length === 3);
  pending.push(
    ...(await enqueue(
      Array.from({ length: 30 }, (_, i) => ({
        queue: QUEUES[i % 3] as string,
        clientId: CLIENTS[i % 4] as string,
        path: `/ok/pending-${i}`,
      })),
    )),
  );
  await waitForProjections(service.redis, service.keys);
}, 60_000);

afterAll(async () => {
  for (const res of held) answer(res, 200);
  await service?.stop();
  await target?.close();
});

describe('GET /v1/tasks', () => {
  test('the workload left every status but retrying in place', async () => {
    const statuses = [...(await truth()).values()].map((s) => s.task.status);
    const count = (s: string) => statuses.filter((x) => x === s).length;
    expect({
      succeeded: count('succeeded'),
      failed: count('failed'),
      scheduled: count('scheduled'),
      cancelled: count('cancelled'),
      active: count('active'),
      pending: count('pending'),
    }).toEqual({ succeeded: 72, failed: 18, scheduled: 30, cancelled: 15, active: 3, pending: 30 });
  });

  test('each filter and combination lists exactly the matching tasks, newest first', async () => {
    await waitForProjections(service.redis, service.keys);
    const tasks = [...(await truth()).values()].map((s) => s.task);
    const cases: { query: string; match: (t: Task) => boolean }[] = [
      { query: '', match: () => true },
      ...QUEUES.map((q) => ({ query: `queue=${q}`, match: (t: Task) => t.queue === q })),
      ...STATUSES.map((s) => ({ query: `status=${s}`, match: (t: Task) => t.status === s })),
      ...[...CLIENTS, 'client-h'].map((c) => ({ query: `client_id=${c}`, match: (t: Task) => t.clientId === c })),
      { query: 'queue=critical&status=active', match: (t) => t.queue === 'critical' && t.status === 'active' },
      { query: 'queue=low&status=scheduled', match: (t) => t.queue === 'low' && t.status === 'scheduled' },
      { query: 'client_id=client-b&status=failed', match: (t) => t.clientId === 'client-b' && t.status === 'failed' },
      { query: 'client_id=client-c&queue=default', match: (t) => t.clientId === 'client-c' && t.queue === 'default' },
      {
        query: 'client_id=client-a&queue=low&status=succeeded',
        match: (t) => t.clientId === 'client-a' && t.queue === 'low' && t.status === 'succeeded',
      },
      { query: 'queue=nowhere', match: () => false },
      { query: 'client_id=nobody', match: () => false },
    ];
    for (const { query, match } of cases) {
      const expected = newestFirst(tasks.filter(match).map((t) => t.id));
      const listed = await pageAll(query, 7);
      expect({ query, ids: listed.map((t) => t.task_id) }).toEqual({ query, ids: expected });
      const byId = new Map(tasks.map((t) => [t.id, t]));
      for (const item of listed) {
        const t = byId.get(item.task_id) as Task;
        expect(item).toMatchObject({ status: t.status, queue: t.queue, client_id: t.clientId });
      }
    }
  });

  test('one page holds everything that fits: limit 1000, and the default of 50', async () => {
    const all = await get('/v1/tasks?limit=1000');
    expect(all.status).toBe(200);
    expect(all.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual(newestFirst(ids));
    expect(all.body.next_cursor).toBeNull();
    const first = await get('/v1/tasks');
    expect(first.body.tasks).toHaveLength(50);
    expect(first.body.next_cursor).toBe(first.body.tasks[49].task_id);
    const one = await get('/v1/tasks?limit=1&status=active');
    expect(one.body.tasks).toHaveLength(1);
    expect(one.body.next_cursor).toBe(one.body.tasks[0].task_id);
  });

  test('paging returns every task exactly once, newest first, while tasks are enqueued and cancelled meanwhile', async () => {
    await waitForProjections(service.redis, service.keys);
    const before = newestFirst(ids);
    const scheduled = [...(await truth()).values()].filter((s) => s.task.status === 'scheduled').map((s) => s.task.id);
    const added: string[] = [];
    const listed = await pageAll('', 9, async (page) => {
      // newer tasks land above the cursor; a task changing status moves between the lists being merged
      added.push(
        ...(await enqueue([{ queue: QUEUES[page % 3] as string, clientId: 'client-z', path: `/ok/late-${page}` }])),
      );
      const victim = scheduled.pop();
      if (victim)
        expect((await service.app.inject({ method: 'DELETE', url: `/v1/tasks/${victim}` })).statusCode).toBe(200);
      await sleep(page % 2 === 0 ? 0 : 120); // sometimes after the projector has applied the change
    });
    expect(added.length).toBeGreaterThan(10);
    const got = listed.map((t) => t.task_id);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(before);
    const times = listed.map((t) => Date.parse(t.created_at));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1] as number);
  });

  test.each([
    ['an unknown parameter', '?color=red', 'color'],
    ['a status that does not exist', '?status=done', 'status'],
    ['a status named after an Object property', '?status=constructor', 'status'],
    ['two statuses', '?status=failed&status=pending', 'status'],
    ['limit 0', '?limit=0', 'limit'],
    ['limit 1001', '?limit=1001', 'limit'],
    ['limit abc', '?limit=abc', 'limit'],
    ['limit -5', '?limit=-5', 'limit'],
    ['limit 2.5', '?limit=2.5', 'limit'],
    ['an empty limit', '?limit=', 'limit'],
    ['a cursor that is no task id', '?cursor=not%20a%20cursor', 'cursor'],
    ['a cursor too long', `?cursor=${'a'.repeat(501)}`, 'cursor'],
    ['a queue name with a space', '?queue=a%20b', 'queue'],
    ['a client id with a slash', '?client_id=a%2Fb', 'client_id'],
  ])('%s answers 400 naming the field', async (_, query, field) => {
    const res = await get(`/v1/tasks${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.message).toContain(`${field}:`);
  });

  test('several bad parameters are all named at once', async () => {
    const res = await get('/v1/tasks?limit=0&status=x&cursor=%24&x=1');
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cursor', 'limit', 'status', 'x']);
  });
});

describe('GET /v1/queues and /v1/queues/:queue', () => {
  const countsByQueue = async () => {
    const out = new Map<string, Record<string, number>>();
    for (const { task } of (await truth()).values()) {
      const counts = out.get(task.queue) ?? Object.fromEntries(STATUSES.map((s) => [s, 0]));
      counts[task.status] = (counts[task.status] ?? 0) + 1;
      out.set(task.queue, counts);
    }
    return out;
  };

  test('counts by status per queue match the histories, with today’s usage and the projections’ lag', async () => {
    await waitForProjections(service.redis, service.keys);
    const res = await get('/v1/queues');
    expect(res.status).toBe(200);
    const expected = await countsByQueue();
    expect(res.body.queues.map((q: { name: string }) => q.name)).toEqual([...QUEUES]);
    const snaps = await truth();
    for (const q of res.body.queues) {
      expect({ queue: q.name, counts: q.counts }).toEqual({ queue: q.name, counts: expected.get(q.name) });
      const mine = [...snaps.values()].filter((s) => s.task.queue === q.name);
      const today = q.today.day as string;
      const on = (type: string) =>
        mine.flatMap((s) => s.events).filter((e) => e.type === type && utcDay(e.at) === today).length;
      expect(q.today).toMatchObject({
        enqueued: on('enqueued'),
        attempts: on('attempted'),
        succeeded: on('succeeded'),
        failed: on('failed'),
      });
      // every queue has tasks waiting behind the three hanging calls
      expect(q.oldest_pending_age_ms).toBeGreaterThanOrEqual(0);
    }
    expect(res.body.projections).toEqual([
      { name: 'tasks', generation: 1, lag: 0, rebuilding: null },
      { name: 'usage', generation: 1, lag: 0, rebuilding: null },
    ]);
  });

  test('one queue: its counts, 7 days of usage, newest first', async () => {
    const res = await get('/v1/queues/critical');
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual((await countsByQueue()).get('critical'));
    expect(res.body.days).toHaveLength(7);
    expect(res.body.days[0].day).toBe(res.body.today.day);
    expect(res.body.days.map((d: { day: string }) => d.day)).toEqual(
      [...res.body.days.map((d: { day: string }) => d.day)].sort().reverse(),
    );
    expect(res.body.today.latency_p50_ms).toEqual(expect.any(Number));
  });

  test('an unknown queue is 404, an unknown parameter 400', async () => {
    expect((await get('/v1/queues/nowhere')).status).toBe(404);
    expect((await get('/v1/queues/nowhere?as_of=2026-01-01T00:00:00Z')).status).toBe(404);
    const bad = await get('/v1/queues?verbose=1');
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(['verbose']);
    const bad2 = await get('/v1/queues/low?at=2026-01-01T00:00:00Z');
    expect(bad2.status).toBe(400);
    expect(bad2.body.errors.map((e: { field: string }) => e.field)).toEqual(['at']);
  });

  test('as_of between the two phases counts only phase A, as its tasks ended', async () => {
    const snaps = await truth();
    for (const queue of QUEUES) {
      const res = await get(`/v1/queues/${queue}?as_of=${new Date(betweenPhases).toISOString()}`);
      expect(res.status).toBe(200);
      const expected = Object.fromEntries(STATUSES.map((s) => [s, 0]));
      let events = 0;
      for (const id of phaseA) {
        const s = snaps.get(id) as { task: Task; events: Recorded[] };
        if (s.task.queue === queue) expected[s.task.status] = (expected[s.task.status] ?? 0) + 1;
      }
      for (const id of phaseA) events += (snaps.get(id)?.events ?? []).length;
      expect(res.body).toMatchObject({ name: queue, as_of: new Date(betweenPhases).toISOString(), counts: expected });
      // the replay read the ledger up to that instant: every event of phase A, of every queue, and nothing later
      expect(res.body.replayed_events).toBe(events);
    }
  });

  test('as_of before anything happened counts nothing; in the future or malformed is 400', async () => {
    const early = await get('/v1/queues/default?as_of=2020-01-01T00:00:00Z');
    expect(early.status).toBe(200);
    expect(Object.values(early.body.counts).every((n) => n === 0)).toBe(true);
    const future = await get(`/v1/queues/default?as_of=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.status).toBe(400);
    expect(future.body.errors[0].field).toBe('as_of');
    for (const bad of ['yesterday', '2026-13-45T99:00:00Z', '1700000000000', '2026-01-01', '']) {
      const res = await get(`/v1/queues/default?as_of=${encodeURIComponent(bad)}`);
      expect({ bad, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({
        bad,
        status: 400,
        field: 'as_of',
      });
    }
  });

  test('oldest_pending_age_ms is the age of the oldest task waiting; cancelling them all leaves none pending', async () => {
    const snaps = await truth();
    const waiting = [...snaps.values()]
      .filter((x) => x.task.queue === 'low' && x.task.status === 'pending')
      .map((x) => x.task.id);
    expect(waiting).toEqual(expect.arrayContaining(pending.filter((id) => snaps.get(id)?.task.queue === 'low')));
    const oldest = Math.min(...waiting.map((id) => snaps.get(id)?.task.createdAt ?? 0));
    const before = await get('/v1/queues/low');
    const age = Date.now() - oldest;
    expect(before.body.oldest_pending_age_ms).toBeGreaterThanOrEqual(age - 1000);
    expect(before.body.oldest_pending_age_ms).toBeLessThanOrEqual(age + 50);
    for (const id of waiting) {
      expect((await service.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}` })).statusCode).toBe(200);
    }
    await waitForProjections(service.redis, service.keys);
    expect((await get('/v1/queues/low')).body.counts.pending).toBe(0);
  });

  /**
   * Cancelling a pending task leaves its entry in the ready stream (the commit carries no entry id to XDEL), so
   * oldestPendingAgeMs must skip such entries; it once reported the age of the first cancelled one.
   */
  test('oldest_pending_age_ms is null once no task waits (all cancelled)', async () => {
    const after = await get('/v1/queues/low');
    expect(after.body.counts.pending).toBe(0);
    expect(after.body.oldest_pending_age_ms).toBeNull();
  });

  test('as_of that needs more ledger events than allowed answers 422', async () => {
    const app = await buildApp({
      store: service.store,
      queueNames: [...QUEUES],
      log: silentLog,
      asOfMaxEvents: 10,
      authMode: 'open',
    });
    try {
      const res = await app.inject({ method: 'GET', url: `/v1/queues/low?as_of=${new Date().toISOString()}` });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ error: 'too_many_events' });
    } finally {
      await app.close();
    }
  });
});

describe('GET /v1/clients/:client_id/stats', () => {
  test('counts and daily usage per client match the histories', async () => {
    await waitForProjections(service.redis, service.keys);
    const snaps = [...(await truth()).values()];
    for (const clientId of [...CLIENTS, 'client-h']) {
      const res = await get(`/v1/clients/${clientId}/stats?days=3`);
      expect(res.status).toBe(200);
      const mine = snaps.filter((s) => s.task.clientId === clientId);
      const expected = Object.fromEntries(STATUSES.map((s) => [s, mine.filter((m) => m.task.status === s).length]));
      expect(res.body).toMatchObject({ client_id: clientId, counts: expected });
      expect(res.body.days).toHaveLength(3);
      const sum = (field: string) =>
        res.body.days.reduce((n: number, d: Record<string, number>) => n + (d[field] ?? 0), 0);
      const events = mine.flatMap((s) => s.events);
      expect({ clientId, enqueued: sum('enqueued'), attempts: sum('attempts'), failed: sum('failed') }).toEqual({
        clientId,
        enqueued: mine.length,
        attempts: events.filter((e) => e.type === 'attempted').length,
        failed: events.filter((e) => e.type === 'failed').length,
      });
    }
  });

  test('an unknown client has zero counts; days defaults to 7 and must be 1 to 90', async () => {
    const none = await get('/v1/clients/nobody-here/stats');
    expect(none.status).toBe(200);
    expect(Object.values(none.body.counts).every((n) => n === 0)).toBe(true);
    expect(none.body.days).toHaveLength(7);
    expect((await get('/v1/clients/client-a/stats?days=90')).body.days).toHaveLength(90);
    for (const days of ['0', '91', 'x', '1.5', '-1']) {
      const res = await get(`/v1/clients/client-a/stats?days=${days}`);
      expect({ days, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({
        days,
        status: 400,
        field: 'days',
      });
    }
    const unknown = await get('/v1/clients/client-a/stats?from=2026-01-01');
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.map((e: { field: string }) => e.field)).toEqual(['from']);
  });
});

describe('GET /v1/tasks/:id?as_of=', () => {
  const iso = (ms: number) => new Date(ms).toISOString();

  test('before the task existed: 404; at each event: the status it had then; later: as now', async () => {
    const snap = await service.store.load(cancelledId);
    const [enqueued, scheduled, cancelled] = snap?.events ?? [];
    expect([enqueued?.type, scheduled?.type, cancelled?.type]).toEqual(['enqueued', 'scheduled', 'cancelled']);
    const created = enqueued?.at ?? 0;
    expect(cancelledAt).toBeGreaterThan(created); // the cancel came 30 ms or more later
    const at = (ms: number) => get(`/v1/tasks/${cancelledId}?as_of=${iso(ms)}`);

    const before = await at(created - 1);
    expect(before.status).toBe(404);
    expect((await at(created)).body).toMatchObject({ status: 'scheduled', updated_at: iso(created) });
    expect((await at(cancelledAt - 1)).body).toMatchObject({ status: 'scheduled', updated_at: iso(created) });
    expect((await at(cancelledAt)).body).toMatchObject({ status: 'cancelled', updated_at: iso(cancelledAt) });
    const now = await get(`/v1/tasks/${cancelledId}`);
    expect((await at(Date.now() + 60_000)).body).toEqual(now.body);
  });

  test('a delivered task, replayed through its lease, attempt and outcome', async () => {
    const id = phaseA[1] as string; // i = 1: answered 200 at once
    const events = (await service.store.load(id))?.events ?? [];
    for (const e of events) {
      const res = await get(`/v1/tasks/${id}?as_of=${iso(e.at)}`);
      expect(res.status).toBe(200);
      const expected = fold(
        id,
        events.filter((x) => x.at <= e.at),
      );
      expect(res.body).toMatchObject({ status: expected.status, attempts: expected.attempts });
    }
  });

  test('a malformed as_of or an unknown parameter is 400; an unknown task 404 whatever the instant', async () => {
    for (const bad of ['now', '2026-02-30T25:00:00Z', '2026-01-01 00:00:00']) {
      const res = await get(`/v1/tasks/${cancelledId}?as_of=${encodeURIComponent(bad)}`);
      expect({ bad, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({
        bad,
        status: 400,
        field: 'as_of',
      });
    }
    expect((await get(`/v1/tasks/${cancelledId}?when=2026-01-01T00:00:00Z`)).status).toBe(400);
    const unknown = '0190d6a0-0000-7000-8000-000000000000';
    expect((await get(`/v1/tasks/${unknown}?as_of=${iso(Date.now())}`)).status).toBe(404);
  });

  test('the same instant written with an offset, nanoseconds or lower case gives the same answer', async () => {
    const snap = await service.store.load(cancelledId);
    const created = snap?.events[0]?.at ?? 0;
    const utc = new Date(created).toISOString(); // 2026-11-27T10:00:00.123Z
    const withOffset = `${new Date(created + 5.5 * 3_600_000).toISOString().slice(0, 23)}+05:30`;
    const spellings = [utc, withOffset, `${utc.slice(0, 23)}999999Z`, utc.toLowerCase()];
    for (const as of spellings) {
      const res = await get(`/v1/tasks/${cancelledId}?as_of=${encodeURIComponent(as)}`);
      expect({ as, status: res.status, state: res.body.status }).toEqual({ as, status: 200, state: 'scheduled' });
    }
    const justBefore = `${new Date(created - 1 + 5.5 * 3_600_000).toISOString().slice(0, 23)}+05:30`;
    expect((await get(`/v1/tasks/${cancelledId}?as_of=${encodeURIComponent(justBefore)}`)).status).toBe(404);
  });

  /**
   * Date.parse rolls impossible calendar dates over (2026-02-30 becomes 2026-03-02, hour 24 the next day's
   * midnight): parseInstant must refuse them rather than answer for another instant than the one asked.
   */
  test('an impossible calendar date is 400 naming as_of', async () => {
    for (const bad of ['2026-02-30T10:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z']) {
      const res = await get(`/v1/queues/default?as_of=${encodeURIComponent(bad)}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
    }
  });
});

describe('the admin API’s key', () => {
  const call = (app: { inject: typeof service.app.inject }, method: 'GET' | 'POST', url: string, key?: string) =>
    app.inject({ method, url, headers: key === undefined ? {} : { 'x-admin-key': key } });
  const endpoints = [
    ['GET', '/admin/projections'],
    ['POST', '/admin/projections/tasks/rebuild'],
    ['POST', '/admin/projections/nothing/rebuild'],
  ] as const;

  test('disabled (no key configured): 403 for everyone, even with a key', async () => {
    const app = await buildApp({ store: service.store, queueNames: [...QUEUES], log: silentLog });
    try {
      for (const [method, url] of endpoints) {
        for (const key of [undefined, '', ADMIN_KEY, 'anything']) {
          const res = await call(app, method, url, key);
          expect({ url, key, status: res.statusCode }).toEqual({ url, key, status: 403 });
          expect(res.json()).toMatchObject({ error: 'admin_disabled' });
        }
      }
    } finally {
      await app.close();
    }
  });

  test('missing or empty key: 401; wrong key (any length, any case): 403; never 500', async () => {
    for (const [method, url] of endpoints) {
      for (const [key, status] of [
        [undefined, 401],
        ['', 401],
        ['wrong', 403],
        [ADMIN_KEY.toUpperCase(), 403],
        [`${ADMIN_KEY}x`, 403],
        [ADMIN_KEY.slice(0, -1), 403],
        ['x'.repeat(5000), 403],
      ] as const) {
        const res = await call(service.app, method, url, key);
        expect({ url, key: key?.slice(0, 40), status: res.statusCode }).toEqual({
          url,
          key: key?.slice(0, 40),
          status,
        });
      }
    }
  });

  test('the right key: lags, an unknown projection 404, a rebuild 202', async () => {
    const lags = await call(service.app, 'GET', '/admin/projections', ADMIN_KEY);
    expect(lags.statusCode).toBe(200);
    expect(lags.json().projections.map((p: { name: string }) => p.name)).toEqual(['tasks', 'usage']);
    expect((await call(service.app, 'POST', '/admin/projections/nothing/rebuild', ADMIN_KEY)).statusCode).toBe(404);
    const started = await call(service.app, 'POST', '/admin/projections/usage/rebuild', ADMIN_KEY);
    expect(started.statusCode).toBe(202);
    expect(started.json()).toMatchObject({ projection: 'usage', generation: 2 });
    await waitForProjections(service.redis, service.keys);
    const after = await get('/v1/queues');
    expect(after.body.projections).toContainEqual({ name: 'usage', generation: 2, lag: 0, rebuilding: null });
  });
});
