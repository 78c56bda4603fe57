import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { silentLog, testStore } from '../support/store.ts';

/** Malformed requests get a 4xx that says what was wrong, and nothing is written. */
let ctx: ReturnType<typeof testStore>;
let app: Awaited<ReturnType<typeof buildApp>>;
beforeAll(async () => {
  ctx = testStore();
  app = await buildApp({
    store: ctx.store,
    queueNames: ['critical', 'default', 'low'],
    log: silentLog,
    authMode: 'open',
  });
});
afterAll(async () => {
  await app.close();
  await ctx.close();
});

const post = (payload: string, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/v1/enqueue', headers: { 'content-type': contentType }, payload });

test.each([
  ['a body that is not JSON', () => post('{"client_id":'), 400],
  ['a text/plain body', () => post('hello', 'text/plain'), 415],
  ['an unknown content type', () => post('<a/>', 'application/xml'), 415],
  ['a body over the limit', () => post(`{"x":"${'a'.repeat(5 * 1024 * 1024)}"}`), 413],
  ['a JSON array', () => post('[]'), 400],
  [
    'a task over 1 MB',
    () => post(JSON.stringify({ client_id: 'abc', task: { url: 'http://a.test/', body: 'b'.repeat(1024 * 1024) } })),
    413,
  ],
  ['a __proto__ key', () => post('{"__proto__":{"x":1},"client_id":"abc","task":{"url":"http://a.test/"}}'), 400],
])('%s answers %i with an error body, and writes nothing', async (_, send, status) => {
  const res = await send();
  expect(res.statusCode).toBe(status);
  expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  expect(await ctx.redis.keys(`${ctx.prefix}:*`)).toEqual([]);
});

test('an unknown route is a 404 with a JSON body', async () => {
  const res = await app.inject({ method: 'GET', url: '/v2/nothing' });
  expect(res.statusCode).toBe(404);
  expect(res.json()).toMatchObject({ error: 'not_found' });
});

test('an unknown or malformed task id is a 404', async () => {
  for (const id of ['0190d6a0-0000-7000-8000-000000000000', 'bad id with spaces', 'x'.repeat(600)]) {
    const res = await app.inject({ method: 'GET', url: `/v1/tasks/${encodeURIComponent(id)}` });
    expect(res.statusCode).toBe(404);
  }
});
