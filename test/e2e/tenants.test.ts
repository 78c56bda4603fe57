import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bearer, call, laterTask, registerClient } from '../support/api-clients.ts';
import { waitForProjections } from '../support/projection-state.ts';
import { startService } from '../support/service.ts';

/**
 * Tenant isolation and scopes (RELIABILITY T12, the cross-tenant part) through the real service in
 * AUTH_MODE=keys: a client's key sees only its own client's tasks, another client's task answers as if it did
 * not exist (404); audit reads any task and its history and nothing else; admin does everything under /v1.
 */
let service: Awaited<ReturnType<typeof startService>>;
const key: Record<string, string> = {};
const taskOf: Record<string, string> = {};

const as = (who: string) => bearer(key[who] as string);
const get = (who: string, url: string) => call(service.app, 'GET', url, as(who));
const post = (who: string, url: string, payload?: unknown) => call(service.app, 'POST', url, as(who), payload);
const del = (who: string, url: string) => call(service.app, 'DELETE', url, as(who));
const ledgerLength = () => service.redis.xlen(service.keys.events);

beforeAll(async () => {
  service = await startService({ authMode: 'keys', tiers: 'free:1000:5' });
  key.a = await registerClient(service, 'tenant-a');
  key.b = await registerClient(service, 'tenant-b');
  key.auditor = await registerClient(service, 'auditor', { scopes: ['audit'] });
  key.operator = await registerClient(service, 'operator', { scopes: ['admin'] });
  key.reader = await registerClient(service, 'reader-c', { scopes: ['read'] });
  key.writer = await registerClient(service, 'writer-d', { scopes: ['enqueue'] });
  for (const [who, client] of [
    ['a', 'tenant-a'],
    ['b', 'tenant-b'],
    ['reader', 'reader-c'],
    ['writer', 'writer-d'],
  ] as const) {
    // each client's own task, enqueued by the operator where the client's key cannot enqueue
    const res = await post(who === 'reader' ? 'operator' : who, '/v1/enqueue', laterTask(client));
    expect(res.status).toBe(200);
    taskOf[who] = res.body.task_id;
  }
  await waitForProjections(service.redis, service.keys);
});
afterAll(() => service.stop());

describe('tenant A and tenant B’s task', () => {
  test('GET of B’s task answers 404, exactly as a task that does not exist', async () => {
    const theirs = await get('a', `/v1/tasks/${taskOf.b}`);
    const missing = await get('a', '/v1/tasks/019ac5e2-0000-7000-8000-000000000000');
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual({ error: 'NotFound', message: `no task ${taskOf.b}` });
    expect(missing.body).toEqual({ error: 'NotFound', message: 'no task 019ac5e2-0000-7000-8000-000000000000' });
    expect((await get('a', `/v1/tasks/${taskOf.b}?as_of=${new Date().toISOString()}`)).status).toBe(404);
  });

  test('its history answers 404', async () => {
    expect((await get('a', `/v1/tasks/${taskOf.b}/history`)).status).toBe(404);
  });

  test('DELETE answers 404 and B’s task stays scheduled, with nothing appended', async () => {
    const before = await ledgerLength();
    expect((await del('a', `/v1/tasks/${taskOf.b}`)).status).toBe(404);
    expect(await ledgerLength()).toBe(before);
    expect((await get('b', `/v1/tasks/${taskOf.b}`)).body.status).toBe('scheduled');
  });

  test('A’s own task, history and stats are there', async () => {
    expect((await get('a', `/v1/tasks/${taskOf.a}`)).body).toMatchObject({ client_id: 'tenant-a' });
    expect((await get('a', `/v1/tasks/${taskOf.a}/history`)).body.events[0].type).toBe('enqueued');
    expect((await get('a', '/v1/clients/tenant-a/stats')).body.counts.scheduled).toBe(1);
  });

  test('the list shows only A’s tasks, with or without client_id=tenant-a', async () => {
    for (const url of ['/v1/tasks', '/v1/tasks?client_id=tenant-a', '/v1/tasks?status=scheduled&queue=default']) {
      const res = await get('a', url);
      expect(res.status).toBe(200);
      expect(res.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([taskOf.a]);
    }
  });

  test('listing B’s tasks by client_id: 403 naming client_id', async () => {
    const res = await get('a', '/v1/tasks?client_id=tenant-b');
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/^client_id: /);
  });

  test('B’s stats answer 404', async () => {
    expect((await get('a', '/v1/clients/tenant-b/stats')).status).toBe(404);
  });

  test('enqueueing for B: 403 naming client_id, nothing written', async () => {
    const before = await ledgerLength();
    const res = await post('a', '/v1/enqueue', laterTask('tenant-b'));
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/^client_id: /);
    expect(await ledgerLength()).toBe(before);
  });

  test('in a batch, an item for B is refused on its own; A’s item is enqueued', async () => {
    const res = await post('a', '/v1/enqueue:batch', { tasks: [laterTask('tenant-a'), laterTask('tenant-b')] });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string; error?: string }) => [r.status, r.error])).toEqual([
      ['enqueued', undefined],
      ['rejected', 'forbidden'],
    ]);
    await del('a', `/v1/tasks/${res.body.results[0].task_id}`);
  });

  test('queue stats and pause/resume need admin: 403 insufficient_scope', async () => {
    for (const [method, url] of [
      ['GET', '/v1/queues'],
      ['GET', '/v1/queues/default'],
      ['POST', '/v1/queues/default/pause'],
      ['POST', '/v1/queues/default/resume'],
    ] as const) {
      const res = await call(service.app, method, url, as('a'));
      expect({ url, status: res.status, error: res.body.error }).toEqual({
        url,
        status: 403,
        error: 'insufficient_scope',
      });
      expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    }
  });
});

describe('audit scope', () => {
  test('reads any client’s task and history', async () => {
    for (const who of ['a', 'b'] as const) {
      expect((await get('auditor', `/v1/tasks/${taskOf[who]}`)).status).toBe(200);
      expect((await get('auditor', `/v1/tasks/${taskOf[who]}/history`)).status).toBe(200);
    }
  });

  test('and nothing else: no list, stats, queues, enqueue, cancel or pause', async () => {
    for (const [method, url, payload] of [
      ['GET', '/v1/tasks', undefined],
      ['GET', '/v1/clients/tenant-a/stats', undefined],
      ['GET', '/v1/clients/auditor/stats', undefined],
      ['GET', '/v1/queues', undefined],
      ['POST', '/v1/enqueue', laterTask('auditor')],
      ['POST', '/v1/enqueue:batch', { tasks: [laterTask('auditor')] }],
      ['DELETE', `/v1/tasks/${taskOf.a}`, undefined],
      ['POST', '/v1/queues/default/pause', undefined],
    ] as const) {
      const res = await call(service.app, method, url, as('auditor'), payload);
      expect({ url, status: res.status }).toEqual({ url, status: 403 });
    }
  });
});

describe('read-only and enqueue-only keys', () => {
  test('read: its own task yes; enqueue and cancel no', async () => {
    expect((await get('reader', `/v1/tasks/${taskOf.reader}`)).status).toBe(200);
    expect((await post('reader', '/v1/enqueue', laterTask('reader-c'))).status).toBe(403);
    expect((await del('reader', `/v1/tasks/${taskOf.reader}`)).status).toBe(403);
  });

  test('enqueue: enqueue and cancel its own task yes; read no', async () => {
    expect((await get('writer', `/v1/tasks/${taskOf.writer}`)).status).toBe(403);
    expect((await get('writer', '/v1/tasks')).status).toBe(403);
    expect((await del('writer', `/v1/tasks/${taskOf.writer}`)).body.status).toBe('cancelled');
  });
});

describe('admin scope', () => {
  test('lists every client’s tasks and reads queue stats', async () => {
    const listed = (await get('operator', '/v1/tasks?limit=1000')).body.tasks.map(
      (t: { task_id: string }) => t.task_id,
    );
    expect(listed).toEqual(expect.arrayContaining([taskOf.a, taskOf.b]));
    expect((await get('operator', '/v1/tasks?client_id=tenant-b')).body.tasks).toHaveLength(1);
    expect((await get('operator', '/v1/queues')).status).toBe(200);
    expect((await get('operator', '/v1/clients/tenant-b/stats')).status).toBe(200);
  });

  test('pauses and resumes a queue, and cancels another client’s task', async () => {
    expect((await post('operator', '/v1/queues/low/pause')).body).toEqual({ name: 'low', paused: true });
    expect((await post('operator', '/v1/queues/low/resume')).body).toEqual({ name: 'low', paused: false });
    expect((await del('operator', `/v1/tasks/${taskOf.b}`)).body.status).toBe('cancelled');
  });
});
