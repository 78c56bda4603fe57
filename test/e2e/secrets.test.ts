import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { createHeaderCipher } from '../../src/adapters/crypto/header-cipher.ts';
import { createLogger } from '../../src/adapters/logging/logger.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { SECRET_MASK } from '../../src/domain/task/secrets.ts';
import { enqueue as commitEnqueue } from '../support/commits.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { prefixOf, waitForProjections } from '../support/projection-state.ts';
import { dumpRedis } from '../support/redis-dump.ts';
import { startService } from '../support/service.ts';

/**
 * T12, the secrets half (RELIABILITY.md): tasks carry planted Authorization, X-Api-Key, X-Auth-Token, Cookie and
 * apikey (Supabase's name: secret by its name's component) secrets; some are delivered (the target must get them in plaintext), some fail, some stay scheduled, one is
 * cancelled. Then every key of the service's Redis prefix, every log line (level trace) and every API response
 * is searched: no secret in plaintext anywhere with ENCRYPTION_KEY set; responses and logs masked without it.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field and checked by the assertions
type Json = any;

type Planted = { path: string; auth: string; apiKey: string; token: string; cookie: string; bareApiKey: string };

const plant = (path: string): Planted => {
  const tag = randomUUID().slice(0, 8);
  return {
    path,
    auth: `Bearer plant-auth-${tag}`,
    apiKey: `plant-apikey-${tag}`,
    token: `plant-token-${tag}`,
    cookie: `sid=plant-cookie-${tag}`,
    bareApiKey: `plant-bare-apikey-${tag}`,
  };
};
const secretsOf = (p: Planted) => [p.auth, p.apiKey, p.token, p.cookie, p.bareApiKey];
const MASKED_HEADERS = {
  'Content-Type': 'application/json',
  Authorization: SECRET_MASK,
  'X-Api-Key': SECRET_MASK,
  'X-Auth-Token': SECRET_MASK,
  Cookie: SECRET_MASK,
  apikey: SECRET_MASK,
};

const captureLog = () => {
  const lines: string[] = [];
  return { log: createLogger('trace', { write: (line: string) => void lines.push(line) }), lines };
};

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs the workload on a service with or without ENCRYPTION_KEY and gathers everything that could leak. */
const runWorkload = async (encryptionKey: string | undefined) => {
  const target = await startTarget((req, res) => answer(res, req.path.startsWith('/ok') ? 200 : 500));
  cleanups.push(() => target.close());
  const { log, lines } = captureLog();
  const service = await startService({
    log,
    retry: { maxRetries: 0, minBackoffMs: 1000, maxBackoffMs: 1000 },
    ...(encryptionKey === undefined ? {} : { encryptionKey }),
  });
  cleanups.push(() => service.stop());
  const responses: string[] = [];
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
    const res = await service.app.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
    responses.push(res.body);
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(200);
    return res.json() as Json;
  };
  const body = (p: Planted, delay = 0) => ({
    client_id: 'secrets-client',
    delay,
    task: {
      url: `${target.url}${p.path}`,
      headers: {
        'Content-Type': 'application/json',
        Authorization: p.auth,
        'X-Api-Key': p.apiKey,
        'X-Auth-Token': p.token,
        Cookie: p.cookie,
        apikey: p.bareApiKey,
      },
      body: '{"order":1}',
    },
  });

  const delivered = [plant('/ok/1'), plant('/ok/2'), plant('/ok/3')];
  const failing = [plant('/fail/1'), plant('/fail/2')];
  const scheduled = [plant('/later/1'), plant('/later/2'), plant('/later/3')];
  const all = [...delivered, ...failing, ...scheduled];
  const ids = new Map<Planted, string>();
  for (const p of [delivered[0], failing[0], scheduled[0]] as Planted[]) {
    ids.set(p, (await call('POST', '/v1/enqueue', body(p, p.path.startsWith('/later') ? 3600 : 0))).task_id);
  }
  const rest = all.filter((p) => !ids.has(p));
  const batch = await call('POST', '/v1/enqueue:batch', {
    tasks: rest.map((p) => body(p, p.path.startsWith('/later') ? 3600 : 0)),
  });
  rest.forEach((p, i) => {
    ids.set(p, batch.results[i].task_id);
  });
  const idOf = (p: Planted) => ids.get(p) as string;

  const statusOf = async (p: Planted) => (await service.store.load(idOf(p)))?.task.status;
  await waitFor('deliveries and failures', async () => {
    const statuses = await Promise.all([...delivered, ...failing].map(statusOf));
    return statuses.every((s) => s === 'succeeded' || s === 'failed');
  });
  for (const p of delivered) expect(await statusOf(p)).toBe('succeeded');
  for (const p of failing) expect(await statusOf(p)).toBe('failed');
  for (const p of scheduled) expect(await statusOf(p)).toBe('scheduled');

  await call('DELETE', `/v1/tasks/${idOf(scheduled[2] as Planted)}`);
  await waitForProjections(service.redis, service.keys);

  const views = new Map<Planted, Json>();
  const asOf = new Date().toISOString();
  for (const p of all) {
    views.set(p, await call('GET', `/v1/tasks/${idOf(p)}`));
    await call('GET', `/v1/tasks/${idOf(p)}?as_of=${asOf}`);
    await call('GET', `/v1/tasks/${idOf(p)}/history`);
  }
  const listed = await call('GET', '/v1/tasks?client_id=secrets-client&limit=100');
  expect(listed.tasks).toHaveLength(all.length);
  for (const status of ['succeeded', 'failed', 'scheduled', 'cancelled']) {
    await call('GET', `/v1/tasks?status=${status}&limit=100`);
  }
  await call('GET', '/v1/queues');
  await call('GET', '/v1/queues/default');
  await call('GET', '/v1/clients/secrets-client/stats');

  return {
    target,
    all,
    delivered,
    failing,
    views,
    responses: responses.join('\n'),
    logs: () => lines.join(''),
    redis: await dumpRedis(service.redis, prefixOf(service.keys)),
  };
};

/** The secrets of `planted` that occur in `text`; the assertions expect none. */
const hits = (text: string, planted: readonly Planted[]) => planted.flatMap(secretsOf).filter((s) => text.includes(s));

const expectDeliveredInPlaintext = (w: Awaited<ReturnType<typeof runWorkload>>) => {
  for (const p of [...w.delivered, ...w.failing]) {
    const got = w.target.received.find((r) => r.path === p.path);
    expect(got?.headers).toMatchObject({
      authorization: p.auth,
      'x-api-key': p.apiKey,
      'x-auth-token': p.token,
      cookie: p.cookie,
      apikey: p.bareApiKey,
    });
  }
  expect(w.target.received.filter((r) => r.path.startsWith('/later'))).toEqual([]);
};

const expectMaskedResponses = (w: Awaited<ReturnType<typeof runWorkload>>) => {
  expect(hits(w.responses, w.all)).toEqual([]);
  for (const p of w.all) {
    expect(w.views.get(p).request).toStrictEqual({
      url: `${w.target.url}${p.path}`,
      method: 'POST',
      headers: MASKED_HEADERS,
    });
  }
};

const expectMaskedLogs = (w: Awaited<ReturnType<typeof runWorkload>>) => {
  // the log is not empty: every attempt was logged
  expect(w.logs().match(/"msg":"attempt recorded"/g)).toHaveLength(w.delivered.length + w.failing.length);
  expect(hits(w.logs(), w.all)).toEqual([]);
};

describe('with ENCRYPTION_KEY', () => {
  test('no planted secret is in Redis, the logs or any API response; the target gets every one', async () => {
    const w = await runWorkload(randomBytes(32).toString('base64'));
    expectDeliveredInPlaintext(w);
    expect(w.redis.keys.length).toBeGreaterThan(10);
    expect(hits(w.redis.text, w.all)).toEqual([]);
    // encrypted, not dropped: 5 sealed values per task
    expect(w.redis.text.match(/enc:v1:/g)).toHaveLength(5 * w.all.length);
    expectMaskedResponses(w);
    expectMaskedLogs(w);
  });
});

describe('without ENCRYPTION_KEY', () => {
  test('responses and logs are still masked; Redis holds the values as given', async () => {
    const w = await runWorkload(undefined);
    expectDeliveredInPlaintext(w);
    expect(hits(w.redis.text, w.all)).toHaveLength(5 * w.all.length);
    expect(w.redis.text).not.toContain('enc:v1:');
    expectMaskedResponses(w);
    expectMaskedLogs(w);
  });
});

describe('with the wrong ENCRYPTION_KEY', () => {
  test('a task sealed with another key is left pending with an error naming ENCRYPTION_KEY; others flow', async () => {
    const target = await startTarget((_req, res) => answer(res, 200));
    cleanups.push(() => target.close());
    const { log, lines } = captureLog();
    const service = await startService({ log, encryptionKey: randomBytes(32).toString('hex') });
    cleanups.push(() => service.stop());
    const otherKey = createHeaderCipher(randomBytes(32));
    const sealedElsewhere = new RedisTaskStore(service.redis, service.keys, { cipher: otherKey });
    const p = plant('/sealed-elsewhere');
    const request = {
      url: `${target.url}${p.path}`,
      method: 'POST' as const,
      headers: { Authorization: p.auth },
      body: '',
    };
    await commitEnqueue(sealedElsewhere, 'sealed-elsewhere', { request, at: Date.now() });

    const errorLine = () =>
      lines
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === 'cannot read task; leaving it' && l.taskId === 'sealed-elsewhere');
    await waitFor('the error about the key', () => errorLine() !== undefined);
    expect(errorLine()).toMatchObject({
      level: 50,
      reason: expect.stringMatching(new RegExp(`encrypted with key ${otherKey.keyId}, but ENCRYPTION_KEY is key`)),
    });

    // the worker carries on: a task enqueued after it is delivered
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: 'secrets-client', task: { url: `${target.url}/after`, headers: { Authorization: 'x' } } },
    });
    const after = res.json().task_id as string;
    await waitFor('the next task', async () => (await service.store.load(after))?.task.status === 'succeeded');
    expect(target.received.map((r) => r.path)).toEqual(['/after']);
    expect((await service.store.load('sealed-elsewhere'))?.task).toMatchObject({ status: 'pending', version: 1 });
    expect(lines.join('')).not.toContain(p.auth);
  });
});
