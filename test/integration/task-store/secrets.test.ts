import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createHeaderCipher } from '../../../src/adapters/crypto/header-cipher.ts';
import { RedisTaskStore } from '../../../src/adapters/redis/task-store.ts';
import { SECRET_MASK } from '../../../src/domain/task/secrets.ts';
import type { HttpRequestSpec } from '../../../src/domain/task/task.ts';
import { enqueue, sleepMs } from '../../support/commits.ts';
import { dumpRedis } from '../../support/redis-dump.ts';
import { pendingEntries } from '../../support/redis-state.ts';
import { testStore } from '../../support/store.ts';

const KEY_A = createHeaderCipher(Buffer.alloc(32, 0xa));
const KEY_B = createHeaderCipher(Buffer.alloc(32, 0xb));
const AUTH = 'Bearer plant-store-auth-8c21';
const API_KEY = 'plant-store-apikey-03fe';
const REQUEST: HttpRequestSpec = {
  url: 'http://sink.test/hook',
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: AUTH, 'X-Api-Key': API_KEY },
  body: '{"n":1}',
};
const MASKED_HEADERS = { 'Content-Type': 'application/json', Authorization: SECRET_MASK, 'X-Api-Key': SECRET_MASK };

let ctx: ReturnType<typeof testStore>;
/** The same Redis and keys as ctx.store, as another process with its own ENCRYPTION_KEY (or none) sees them. */
const storeWith = (cipher: typeof KEY_A | null) => new RedisTaskStore(ctx.redis, ctx.keys, { cipher });

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default']);
});
afterEach(() => ctx.close());

describe('a task store with ENCRYPTION_KEY', () => {
  test('keeps secret header values encrypted in Redis and out of the ledger', async () => {
    await enqueue(storeWith(KEY_A), 'task-1', { request: REQUEST });
    const { text } = await dumpRedis(ctx.redis, ctx.prefix);
    expect(text).not.toContain('plant-store');
    const stored = JSON.parse((await ctx.redis.hget(ctx.keys.task('task-1'), 'r')) ?? '');
    expect(stored.headers.Authorization).toMatch(new RegExp(`^enc:v1:${KEY_A.keyId}:`));
    const ledger = JSON.stringify(await ctx.redis.xrange(ctx.keys.events, '-', '+'));
    expect(ledger).not.toContain('enc:v1');
    expect(ledger).not.toContain('Content-Type');
  });

  test('reads give the request masked, with or without a key', async () => {
    await enqueue(storeWith(KEY_A), 'task-1', { request: REQUEST });
    for (const store of [storeWith(KEY_A), storeWith(null), storeWith(KEY_B)]) {
      expect((await store.load('task-1'))?.request?.headers).toStrictEqual(MASKED_HEADERS);
      expect((await store.loadMany(['task-1']))[0]?.request?.headers).toStrictEqual(MASKED_HEADERS);
    }
  });

  test('a lease opens the request for dispatch', async () => {
    await enqueue(storeWith(KEY_A), 'task-1', { request: REQUEST });
    const [entry] = (await storeWith(KEY_A).lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    expect(entry?.unreadable).toBeUndefined();
    expect(entry?.request).toStrictEqual(REQUEST);
  });

  test('a lease without the key, or with another key, leaves the task unreadable and pending, saying why', async () => {
    await enqueue(storeWith(KEY_A), 'task-1', { request: REQUEST });
    const [missing] = (await storeWith(null).lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    expect(missing).toMatchObject({ request: null, unreadable: expect.stringContaining('ENCRYPTION_KEY is not set') });
    await sleepMs(30);
    const [wrong] = await storeWith(KEY_B).reclaim('worker-b', ['default'], 10, 10);
    expect(wrong).toMatchObject({
      request: null,
      unreadable: `secret headers were encrypted with key ${KEY_A.keyId}, but ENCRYPTION_KEY is key ${KEY_B.keyId}`,
    });
    expect(JSON.stringify([missing, wrong])).not.toContain('plant-store');

    // nothing was written: a process with the right key takes the entry over and can dispatch it
    expect((await ctx.store.load('task-1'))?.task).toMatchObject({ status: 'pending', version: 1 });
    await sleepMs(30);
    const [right] = await storeWith(KEY_A).reclaim('worker-c', ['default'], 10, 10);
    expect(right?.entryId).toBe(missing?.entryId);
    expect(right?.request).toStrictEqual(REQUEST);
    expect((await pendingEntries(ctx.redis, ctx.keys, 'default')).map((p) => p.consumer)).toEqual(['worker-c']);
  });
});

describe('a task stored before the list of secret names grew', () => {
  test('a header now secret but stored in plain is dispatched with its value, and read masked', async () => {
    // what a build that sealed only Authorization stored: apikey (now secret) in plain beside the sealed value
    await enqueue(storeWith(KEY_A), 'task-1', { request: { ...REQUEST, headers: { Authorization: AUTH } } });
    const stored = JSON.parse((await ctx.redis.hget(ctx.keys.task('task-1'), 'r')) ?? '');
    stored.headers.apikey = 'plain-apikey-61d0';
    await ctx.redis.hset(ctx.keys.task('task-1'), 'r', JSON.stringify(stored));

    const [entry] = (await storeWith(KEY_A).lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    expect(entry?.unreadable).toBeUndefined();
    expect(entry?.request?.headers).toStrictEqual({ Authorization: AUTH, apikey: 'plain-apikey-61d0' });
    expect((await ctx.store.load('task-1'))?.request?.headers).toStrictEqual({
      Authorization: SECRET_MASK,
      apikey: SECRET_MASK,
    });
  });
});

describe('a task store without ENCRYPTION_KEY', () => {
  test('stores secret header values as given, reads them masked and leases them as given', async () => {
    await enqueue(ctx.store, 'task-1', { request: REQUEST });
    expect(JSON.parse((await ctx.redis.hget(ctx.keys.task('task-1'), 'r')) ?? '')).toStrictEqual(REQUEST);
    expect((await ctx.store.load('task-1'))?.request?.headers).toStrictEqual(MASKED_HEADERS);
    const [entry] = (await storeWith(KEY_A).lease('worker-a', [{ name: 'default', quota: 1 }])).entries;
    expect(entry?.request).toStrictEqual(REQUEST);
  });
});
