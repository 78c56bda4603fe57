import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bearer, call, laterTask, registerClient } from '../support/api-clients.ts';
import { snapshotPrefix, waitForProjections } from '../support/projection-state.ts';
import { startService } from '../support/service.ts';

/**
 * Per-client enqueue rate limits (RELIABILITY T9) through the real service in AUTH_MODE=keys: client X enqueues
 * at 10× its tier's quota while Y enqueues normally. X gets exactly its limit accepted and 429s with Retry-After
 * and the RateLimit headers for the rest; Y is never refused; a refused call writes nothing to Redis.
 */
const TIERS = 'free:5:1,basic:100:5';
let service: Awaited<ReturnType<typeof startService>>;
let x = '';
let y = '';

beforeAll(async () => {
  service = await startService({ authMode: 'keys', tiers: TIERS });
  x = await registerClient(service, 'client-x', { tier: 'free' });
  y = await registerClient(service, 'client-y', { tier: 'basic' });
});
afterAll(() => service.stop());

const enqueue = (key: string, clientId: string) =>
  call(service.app, 'POST', '/v1/enqueue', bearer(key), laterTask(clientId));
const batch = (key: string, tasks: unknown[]) => call(service.app, 'POST', '/v1/enqueue:batch', bearer(key), { tasks });
const windowOf = (clientId: string) => service.redis.zrange(service.keys.rateWindow(clientId), '0', '-1');
const sorted = (a: string[]) => [...a].sort();

/** Everything under the service's prefix: every key with its content, strings' values and streams' lengths. */
const everything = async () => {
  const prefix = service.keys.events.slice(0, service.keys.events.indexOf(':{'));
  const snapshot = await snapshotPrefix(service.redis, prefix);
  const more: Record<string, string | number | null> = {};
  for (const [name, v] of Object.entries(snapshot)) {
    if (v.type === 'stream') more[name] = await service.redis.xlen(`${prefix}${name}`);
    if (v.type === 'string') more[name] = await service.redis.get(`${prefix}${name}`);
  }
  return { snapshot, more };
};

const acceptedX: string[] = [];

describe('client X at 10× its quota while Y enqueues normally', () => {
  test('X: exactly 5 accepted, 45 refused with 429 and the headers; Y: every call accepted', async () => {
    const calls = Array.from({ length: 70 }, (_, i) =>
      i % 7 < 5
        ? enqueue(x, 'client-x').then((r) => ({ who: 'x', ...r }))
        : enqueue(y, 'client-y').then((r) => ({ who: 'y', ...r })),
    );
    const answers = await Promise.all(calls);
    const xs = answers.filter((a) => a.who === 'x');
    const ys = answers.filter((a) => a.who === 'y');
    expect(xs).toHaveLength(50);
    expect(ys).toHaveLength(20);

    expect(ys.map((a) => a.status)).toEqual(ys.map(() => 200));
    const xOk = xs.filter((a) => a.status === 200);
    const xRefused = xs.filter((a) => a.status !== 200);
    expect(xOk).toHaveLength(5);
    expect(xRefused.map((a) => a.status)).toEqual(xRefused.map(() => 429));
    acceptedX.push(...xOk.map((a) => a.body.task_id));

    for (const a of xRefused) {
      expect(a.body.error).toBe('rate_limited');
      expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(a.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(a.headers['ratelimit-policy']).toBe('5;w=60');
      expect(a.headers.ratelimit).toBe(`limit=5, remaining=0, reset=${a.headers['retry-after']}`);
    }
    // the accepted ones carry the headers too, counting down to 0
    expect(sorted(xOk.map((a) => String(a.headers.ratelimit).split(', ')[1] as string))).toEqual([
      'remaining=0',
      'remaining=1',
      'remaining=2',
      'remaining=3',
      'remaining=4',
    ]);
    for (const a of [...xOk, ...ys]) expect(a.headers['ratelimit-policy']).toMatch(/^(5|100);w=60$/);
    expect(ys.every((a) => a.headers['ratelimit-policy'] === '100;w=60')).toBe(true);
  });

  test('X’s window holds exactly its accepted tasks, and only those exist as X’s tasks', async () => {
    expect(sorted(await windowOf('client-x'))).toEqual(sorted(acceptedX));
    await waitForProjections(service.redis, service.keys);
    const listed = await call(service.app, 'GET', '/v1/tasks?limit=100', bearer(x));
    expect(sorted(listed.body.tasks.map((t: { task_id: string }) => t.task_id))).toEqual(sorted(acceptedX));
    const enqueuedForX = (await service.redis.xrange(service.keys.events, '-', '+')).filter(([, f]) =>
      f.join(' ').includes('client-x'),
    );
    expect(enqueuedForX).toHaveLength(5);
  });

  test('refused calls write nothing at all: every key and stream is as before', async () => {
    await waitForProjections(service.redis, service.keys);
    const before = await everything();
    const refused = await Promise.all([
      ...Array.from({ length: 10 }, () => enqueue(x, 'client-x')),
      batch(x, [laterTask('client-x'), laterTask('client-x')]),
    ]);
    expect(refused.map((r) => r.status)).toEqual(refused.map(() => 429));
    expect(await everything()).toEqual(before);
  });

  test('Y is unaffected afterwards', async () => {
    expect((await enqueue(y, 'client-y')).status).toBe(200);
  });
});

describe('batches and validation', () => {
  let z = '';
  beforeAll(async () => {
    z = await registerClient(service, 'client-z', { tier: 'free' });
  });

  test('a batch counts each valid task; invalid items and 400s take no quota', async () => {
    const bad = { client_id: 'client-z', task: { url: 'not a url' } };
    const first = await batch(z, [laterTask('client-z'), bad, laterTask('client-z'), bad, laterTask('client-z')]);
    expect(first.status).toBe(200);
    expect(first.headers.ratelimit).toMatch(/^limit=5, remaining=2, reset=\d+$/);
    expect((await call(service.app, 'POST', '/v1/enqueue', bearer(z), bad)).status).toBe(400);
    expect(await windowOf('client-z')).toHaveLength(3);
  });

  test('a batch that does not fit is refused whole, with Retry-After; nothing of it is stored', async () => {
    const before = await service.redis.xlen(service.keys.events);
    const res = await batch(z, [laterTask('client-z'), laterTask('client-z'), laterTask('client-z')]);
    expect(res.status).toBe(429);
    expect(res.body.message).toContain('2 left in the window, 3 asked for');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await windowOf('client-z')).toHaveLength(3);
    expect(await service.redis.xlen(service.keys.events)).toBe(before);
    expect((await batch(z, [laterTask('client-z'), laterTask('client-z')])).status).toBe(200);
    expect(await windowOf('client-z')).toHaveLength(5);
  });

  test('a batch larger than the tier’s limit says so, without Retry-After (waiting cannot help)', async () => {
    const w = await registerClient(service, 'client-w', { tier: 'free' });
    const res = await batch(
      w,
      Array.from({ length: 6 }, () => laterTask('client-w')),
    );
    expect(res.status).toBe(429);
    expect(res.body.message).toMatch(/6 tasks in one call exceed the free tier's limit of 5 per minute/);
    expect(res.headers).not.toHaveProperty('retry-after');
    expect(res.headers['ratelimit-policy']).toBe('5;w=60');
    expect(await windowOf('client-w')).toEqual([]);
  });
});

describe('whose quota', () => {
  test('an admin key enqueueing for another client counts against its own client’s window', async () => {
    const ops = await registerClient(service, 'ops-admin', { tier: 'free', scopes: ['admin'] });
    expect((await enqueue(ops, 'someone-else')).status).toBe(200);
    expect(await windowOf('ops-admin')).toHaveLength(1);
    expect(await windowOf('someone-else')).toEqual([]);
  });

  test('a client whose tier is not in TIERS: 403 unknown_tier naming the tiers, nothing written', async () => {
    const key = await registerClient(service, 'client-gold', { tier: 'free' });
    await service.redis.hset(service.keys.client('client-gold'), 'tier', 'gold');
    const before = await service.redis.xlen(service.keys.events);
    const res = await enqueue(key, 'client-gold');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('unknown_tier');
    expect(res.body.message).toContain('(free, basic)');
    expect(await service.redis.xlen(service.keys.events)).toBe(before);
  });
});
