import { afterAll, beforeAll, expect, test } from 'vitest';
import type { BreakerChange } from '../../src/adapters/http/breakers.ts';
import type { Snapshot } from '../../src/adapters/redis/task-store.ts';
import type { BreakerSettings } from '../../src/domain/breaker/host-breaker.ts';
import { targetHost } from '../../src/domain/breaker/target-host.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { dailyUsage } from '../../src/projections/read-models.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/**
 * T8 of RELIABILITY.md: host A answers a storm of 500s while host B is healthy. A's breaker opens after the
 * threshold, A gets at most maxProbes calls per half-open period and none while open, A's tasks are deferred
 * without using attempts, B's tasks all go through while A is still open, and A's tasks are all delivered once A
 * recovers. Counts and orders only: the per-period check compares lease times with breaker change times, both
 * read from the worker's clock at the same decision.
 *
 * Breakers are per client: while A's storm has the breaker of this test's client open for host A, another tenant's
 * tasks to host A (a path that answers 200) keep going, are never deferred, and do not count as A's probes.
 */
const BREAKER: BreakerSettings = { failureThreshold: 3, openMs: 1_500, maxProbes: 2, intervalMs: 60_000 };
/** Four attempts each: a task that was attempted at every storm call would run out of them. */
const RETRY = { maxRetries: 3, minBackoffMs: 100, maxBackoffMs: 200 };
const A_TASKS = 20;
const B_TASKS = 30;
const CLIENT = 'breaker-test';
/** Another tenant, calling host A at a path that works. */
const OTHER = 'breaker-test-other';
const OTHER_TASKS = 10;
const OTHER_PATH = '/fine';
/** As long as the deferred crowd's jitter spread (a tenth of openMs). */
const A_LATENCY_MS = 150;

let service: Awaited<ReturnType<typeof startService>>;
let targetA: Awaited<ReturnType<typeof startTarget>>;
let targetB: Awaited<ReturnType<typeof startTarget>>;
let storm = true;
const changes: BreakerChange[] = [];

beforeAll(async () => {
  // slow, so that tasks come back while probes are still out: those must be turned away too
  targetA = await startTarget((req, res) => {
    const status = storm && !req.path.startsWith(OTHER_PATH) ? 500 : 200;
    setTimeout(() => answer(res, status), A_LATENCY_MS);
  });
  targetB = await startTarget((_req, res) => answer(res, 200));
  service = await startService({
    breaker: BREAKER,
    retry: RETRY,
    concurrency: 4,
    onBreakerChange: (change) => changes.push(change),
  });
});
afterAll(async () => {
  await service?.stop();
  await targetA?.close();
  await targetB?.close();
});

const enqueue = async (url: string, n: number, clientId = CLIENT): Promise<string[]> => {
  const tasks = Array.from({ length: n }, (_, i) => ({ client_id: clientId, task: { url: `${url}/t${i}` } }));
  const res = await service.app.inject({ method: 'POST', url: '/v1/enqueue:batch', payload: { tasks } });
  expect(res.statusCode).toBe(200);
  return (res.json().results as { task_id: string }[]).map((r) => r.task_id);
};

const load = async (ids: readonly string[]): Promise<Snapshot[]> =>
  Promise.all(ids.map(async (id) => (await service.store.load(id)) as Snapshot));

/** Polls until `done` holds, for at most `seconds` (a bound, not a timing assertion). */
const waitFor = async (what: string, seconds: number, done: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < seconds * 20; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting: ${what}`);
};

const allSucceeded = async (ids: readonly string[]) => (await load(ids)).every((s) => s.task.status === 'succeeded');

test('an open breaker defers host A without holding back host B or another tenant at A; A is probed, then fully delivered', async () => {
  const hostA = targetHost(targetA.url);
  const hostB = targetHost(targetB.url);
  const aIds = await enqueue(targetA.url, A_TASKS);
  const bIds = await enqueue(targetB.url, B_TASKS);
  const ofA = () => changes.filter((c) => c.clientId === CLIENT && c.host === hostA);
  const breakerOfA = () =>
    service.workers[0]?.breakers?.snapshot().find((b) => b.clientId === CLIENT && b.host === hostA);

  await waitFor("B's tasks delivered", 30, () => allSucceeded(bIds));
  // B finished while A's storm goes on: A's breaker has opened and cannot have closed
  expect(ofA()[0]).toMatchObject({ from: 'closed', to: 'open' });
  expect(breakerOfA()?.phase).toMatch(/^(open|half-open)$/);
  expect((await load(aIds)).filter((s) => s.task.status === 'succeeded')).toHaveLength(0);

  // another tenant's tasks to host A go through while A's breaker for this client stays open or probing
  const otherIds = await enqueue(`${targetA.url}${OTHER_PATH}`, OTHER_TASKS, OTHER);
  await waitFor("the other tenant's tasks delivered", 30, () => allSucceeded(otherIds));
  expect(breakerOfA()?.phase).toMatch(/^(open|half-open)$/);
  const otherSnaps = await load(otherIds);
  expect(otherSnaps.flatMap((s) => s.events).filter((e) => e.type === 'deferred')).toEqual([]);
  expect(otherSnaps.map((s) => s.task.attempts)).toEqual(otherIds.map(() => 1));
  expect(changes.filter((c) => c.clientId === OTHER)).toEqual([]);

  // one probe round fails (half-open → open again), then A recovers
  await waitFor('a failed probe round at A', 30, () => ofA().some((c) => c.from === 'half-open' && c.to === 'open'));
  storm = false;
  await waitFor("A's tasks delivered", 60, () => allSucceeded(aIds));

  // the breaker's course at A: open, then half-open/open rounds, and closed at last; B's never changed
  expect(changes.filter((c) => c.host === hostB)).toEqual([]);
  expect(changes.filter((c) => c.clientId === OTHER)).toEqual([]);
  const course = ofA().map((c) => c.to);
  expect(course[0]).toBe('open');
  expect(course.at(-1)).toBe('closed');
  expect(course.slice(1, -1).every((to, i) => to === (i % 2 === 0 ? 'half-open' : 'open'))).toBe(true);

  const aSnaps = await load(aIds);
  const bSnaps = await load(bIds);
  const events = (snaps: Snapshot[]) => snaps.flatMap((s) => s.events);
  const ofType = <T extends Recorded['type']>(snaps: Snapshot[], type: T) =>
    events(snaps).filter((e): e is Extract<Recorded, { type: T }> => e.type === type);

  // A's tasks were deferred (not attempted) while the breaker was open, B's never
  const deferred = ofType(aSnaps, 'deferred');
  expect(deferred.length).toBeGreaterThan(0);
  expect(new Set(deferred.map((e) => e.data.host))).toEqual(new Set([hostA]));
  expect(ofType(bSnaps, 'deferred')).toEqual([]);
  // every call A received for this client was an attempt of one of its tasks; deferrals used none
  const ofOther = targetA.received.filter((r) => r.path.startsWith(OTHER_PATH));
  expect(ofOther).toHaveLength(OTHER_TASKS);
  expect(ofType(aSnaps, 'attempted')).toHaveLength(targetA.received.length - ofOther.length);
  expect(aSnaps.every((s) => s.task.attempts <= RETRY.maxRetries + 1)).toBe(true);
  expect(ofType(aSnaps, 'failed')).toEqual([]);

  // no lease of an A task while open; at most maxProbes per half-open period (up to the next half-open or close)
  const leases = ofType(aSnaps, 'leased').map((e) => e.at);
  const [opened, ...rest] = ofA();
  const halfOpens = rest.filter((c) => c.to === 'half-open');
  const closedAt = (ofA().at(-1) as BreakerChange).at;
  expect(leases.filter((at) => at > (opened as BreakerChange).at && at < (halfOpens[0] as BreakerChange).at)).toEqual(
    [],
  );
  const perPeriod = halfOpens.map((h, k) => {
    const end = halfOpens[k + 1]?.at ?? closedAt;
    return leases.filter((at) => at >= h.at && at < end).length;
  });
  expect(perPeriod.length).toBeGreaterThanOrEqual(2);
  for (const n of perPeriod) expect(n).toBeLessThanOrEqual(BREAKER.maxProbes);

  // the usage read model counts the deferrals
  await waitFor('usage to count every deferral', 10, async () => {
    const days = await dailyUsage(service.redis, service.keys, { clientId: CLIENT }, Date.now(), 2);
    return days.reduce((sum, d) => sum + d.deferred, 0) === deferred.length;
  });
}, 120_000);
