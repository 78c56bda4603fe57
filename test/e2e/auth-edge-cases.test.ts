import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/adapters/config/env.ts';
import { connected, createRedis } from '../../src/adapters/redis/client.ts';
import { ClientRegistry } from '../../src/adapters/redis/client-registry.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../src/api/app.ts';
import { bearer, call, laterTask, registerClient } from '../support/api-clients.ts';
import { startRedisServer } from '../support/redis-server.ts';
import { startService } from '../support/service.ts';
import { silentLog } from '../support/store.ts';

/**
 * Auth edge cases (RELIABILITY T14): every kind of bad credential answers 401 (with a Bearer challenge) or 403,
 * never 500, on every /v1 route; /health stays open.
 */
const ADMIN_KEY = 'edge-case-admin-key';
let service: Awaited<ReturnType<typeof startService>>;
let good = '';
let disabled = '';
let deleted = '';
let readOnly = '';
let taskId = '';

beforeAll(async () => {
  service = await startService({ authMode: 'keys', adminKey: ADMIN_KEY });
  good = await registerClient(service, 'edge-good');
  disabled = await registerClient(service, 'edge-disabled');
  deleted = await registerClient(service, 'edge-deleted');
  readOnly = await registerClient(service, 'edge-reader', { scopes: ['read'] });
  const registry = new ClientRegistry(service.redis, service.keys);
  await registry.setEnabled('edge-disabled', false);
  await registry.remove('edge-deleted');
  taskId = (await call(service.app, 'POST', '/v1/enqueue', bearer(good), laterTask('edge-good'))).body.task_id;
});
afterAll(() => service.stop());

const ROUTES = () =>
  [
    ['POST', '/v1/enqueue', laterTask('edge-good')],
    ['POST', '/v1/enqueue:batch', { tasks: [laterTask('edge-good')] }],
    ['GET', `/v1/tasks/${taskId}`, undefined],
    ['GET', `/v1/tasks/${taskId}/history`, undefined],
    ['DELETE', '/v1/tasks/019ac5e2-0000-7000-8000-000000000000', undefined],
    ['GET', '/v1/tasks', undefined],
    ['GET', '/v1/clients/edge-good/stats', undefined],
    ['GET', '/v1/queues', undefined],
    ['GET', '/v1/queues/default', undefined],
    ['POST', '/v1/queues/default/pause', undefined],
  ] as const;

const everyRoute = async (headers: Record<string, string>) => {
  const answers: { url: string; status: number; error: string; challenge: string | undefined }[] = [];
  for (const [method, url, payload] of ROUTES()) {
    const res = await call(service.app, method, url, headers, payload);
    answers.push({
      url,
      status: res.status,
      error: res.body?.error,
      challenge: res.headers['www-authenticate'] as string | undefined,
    });
  }
  return answers;
};

const expectEverywhere = async (headers: Record<string, string>, status: number, error: string) => {
  for (const a of await everyRoute(headers)) {
    expect(a).toMatchObject({ url: a.url, status, error });
    if (status === 401) expect(a.challenge).toMatch(/^Bearer realm="task-dispatcher"/);
  }
};

describe('401: no credentials or invalid ones', () => {
  test.each([
    ['no Authorization header', {}],
    ['an empty header', { authorization: '' }],
    ['Basic credentials', { authorization: `Basic ${Buffer.from('edge-good:secret').toString('base64')}` }],
    ['the key without a scheme', { authorization: 'KEY' }],
    ['the key under another scheme', { authorization: 'Token KEY' }],
  ])('%s: unauthenticated', async (_, headers: Record<string, string>) => {
    const h = headers.authorization ? { authorization: headers.authorization.replace('KEY', good) } : headers;
    await expectEverywhere(h, 401, 'unauthenticated');
  });

  test.each([
    ['Bearer without a key', () => 'Bearer'],
    ['Bearer and spaces', () => 'Bearer    '],
    ['an unknown key of the right form', () => `Bearer tdk_${'Q'.repeat(43)}`],
    ['a key one character short', () => `Bearer ${good.slice(0, -1)}`],
    ['a key one character long', () => `Bearer ${good}x`],
    ['a key with its last character changed', () => `Bearer ${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`],
    ['a key in lowercase', () => `Bearer ${good.toLowerCase()}`],
    ['a key with a non-ASCII character', () => `Bearer ${good.slice(0, -1)}é`],
    ['a 10 KB token', () => `Bearer ${'x'.repeat(10_000)}`],
    ['a deleted client’s key', () => `Bearer ${deleted}`],
    ['the admin key as Bearer', () => `Bearer ${ADMIN_KEY}`],
  ])('%s: invalid_token', async (_, header) => {
    await expectEverywhere({ authorization: header() }, 401, 'invalid_token');
  });

  test('the admin key in X-Admin-Key does not open /v1', async () => {
    await expectEverywhere({ 'x-admin-key': ADMIN_KEY }, 401, 'unauthenticated');
  });

  test('UTF-8 bytes in the header over a real socket: 401, not 500', async () => {
    const address = await service.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let data = '';
      socket.on('data', (c) => {
        data += c.toString('latin1');
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write(
        Buffer.concat([
          Buffer.from('GET /v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '),
          Buffer.from(`${good.slice(0, 40)}ключ😀`, 'utf8'),
          Buffer.from('\r\n\r\n'),
        ]),
      );
    });
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(raw.toLowerCase()).toContain('\r\nwww-authenticate: bearer realm="task-dispatcher", error="invalid_token"');
  });
});

describe('403: a valid key that may not do this', () => {
  test('a disabled client’s key: client_disabled', async () => {
    await expectEverywhere(bearer(disabled), 403, 'client_disabled');
  });

  test('a key without the scope: insufficient_scope on what it may not do, its own reads work', async () => {
    const answers = await everyRoute(bearer(readOnly));
    expect(Object.fromEntries(answers.map((a) => [a.url, a.status]))).toEqual({
      '/v1/enqueue': 403,
      '/v1/enqueue:batch': 403,
      [`/v1/tasks/${taskId}`]: 404,
      [`/v1/tasks/${taskId}/history`]: 404,
      '/v1/tasks/019ac5e2-0000-7000-8000-000000000000': 403,
      '/v1/tasks': 200,
      '/v1/clients/edge-good/stats': 404,
      '/v1/queues': 403,
      '/v1/queues/default': 403,
      '/v1/queues/default/pause': 403,
    });
  });
});

describe('the rest', () => {
  test('secure by default: AUTH_MODE defaults to keys, and so does buildApp', async () => {
    expect(loadConfig({}).AUTH_MODE).toBe('keys');
    const app = await buildApp({ store: service.store, queueNames: ['default'], log: silentLog });
    try {
      expect((await call(app, 'GET', '/v1/tasks')).status).toBe(401);
      expect((await call(app, 'GET', '/v1/tasks', bearer(good))).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  test('a good key with surrounding spaces and the scheme in lowercase works', async () => {
    expect(
      (await call(service.app, 'GET', `/v1/tasks/${taskId}`, { authorization: `  bearer  ${good}  ` })).status,
    ).toBe(200);
  });

  test('/health and /health/ready stay open', async () => {
    expect((await call(service.app, 'GET', '/health')).status).toBe(200);
    expect((await call(service.app, 'GET', '/health/ready')).status).toBeLessThan(500);
  });

  test('Redis unreachable while checking a key: 503 with Retry-After, not 500', async () => {
    const server = await startRedisServer();
    const redis = createRedis(loadConfig({ REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '300' }), 'api', 'auth');
    redis.on('error', () => {});
    await connected(redis);
    const app = await buildApp({
      store: new RedisTaskStore(redis, redisKeys('td')),
      queueNames: ['default'],
      log: silentLog,
    });
    try {
      await server.stop();
      const res = await call(app, 'GET', '/v1/tasks', bearer(good));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});
