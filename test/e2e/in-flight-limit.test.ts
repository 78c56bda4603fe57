import { afterAll, beforeAll, expect, test } from 'vitest';
import { inFlightLimits } from '../../src/adapters/redis/in-flight.ts';
import { parseTiers } from '../../src/domain/client/tier.ts';
import { TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { inFlightByClient } from '../support/redis-state.ts';
import { startService } from '../support/service.ts';

/**
 * A tier's in-flight limit holds across workers: two workers, each with room for 10 calls, never have more
 * than the limit of one client's tasks open at its target, the client's excess tasks wait (none fails), and
 * another client's tasks go through meanwhile.
 */
const TIERS = parseTiers('narrow:1000:2,wide:1000:50');
let service: Awaited<ReturnType<typeof startService>>;
let slow: Awaited<ReturnType<typeof startTarget>>;
let fast: Awaited<ReturnType<typeof startTarget>>;
let open = 0;
let maxOpen = 0;
let fastDoneWhileSlowBusy = 0;
const SLOW_TASKS = 12;
const FAST_TASKS = 40;

beforeAll(async () => {
  slow = await startTarget((_req, res) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    setTimeout(() => {
      open--;
      answer(res, 200);
    }, 150);
  });
  fast = await startTarget((_req, res) => {
    if (slow.received.length < SLOW_TASKS) fastDoneWhileSlowBusy++;
    answer(res, 200);
  });
  service = await startService({ concurrency: 10, workers: 2, inFlightLimits: inFlightLimits(TIERS) });
  await service.redis.hset(service.keys.client('capped'), 'tier', 'narrow');
  await service.redis.hset(service.keys.client('roomy'), 'tier', 'wide');
});
afterAll(async () => {
  await service.stop();
  await slow.close();
  await fast.close();
});

const enqueue = async (client: string, url: string) => {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/enqueue',
    payload: { client_id: client, task: { url } },
  });
  expect(res.statusCode).toBe(200);
  return res.json().task_id as string;
};

test('a client at its in-flight limit waits across workers while another client flows', async () => {
  const ids: string[] = [];
  for (let i = 0; i < SLOW_TASKS; i++) ids.push(await enqueue('capped', `${slow.url}/${i}`));
  for (let i = 0; i < FAST_TASKS; i++) ids.push(await enqueue('roomy', `${fast.url}/${i}`));

  let peakInFlight = 0;
  let peakParked = 0;
  for (let i = 0; i < 300; i++) {
    const stats = (await service.app.inject({ method: 'GET', url: '/v1/clients/capped/stats' })).json();
    peakInFlight = Math.max(peakInFlight, stats.in_flight);
    peakParked = Math.max(peakParked, stats.parked);
    const snaps = await Promise.all(ids.map((id) => service.store.load(id)));
    if (snaps.every((s) => s && TERMINAL_STATUSES.has(s.task.status))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const snaps = await Promise.all(ids.map((id) => service.store.load(id)));
  expect(snaps.map((s) => s?.task.status)).toEqual(ids.map(() => 'succeeded'));
  // every task was delivered once, on its first attempt: waiting used no attempt
  expect(snaps.map((s) => s?.task.attempts)).toEqual(ids.map(() => 1));
  expect(slow.received).toHaveLength(SLOW_TASKS);
  expect(fast.received).toHaveLength(FAST_TASKS);
  expect(maxOpen).toBe(2);
  // the client's stats show its slots and the tasks waiting for one
  expect(peakInFlight).toBe(2);
  expect(peakParked).toBeGreaterThan(0);
  // the capped client's backlog (12 × 150 ms over 2 slots, about a second) did not hold the other one back
  expect(fastDoneWhileSlowBusy).toBe(FAST_TASKS);
  expect(await inFlightByClient(service.redis, service.keys)).toEqual(new Map());
});
