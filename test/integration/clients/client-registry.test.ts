import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { digestApiKey } from '../../../src/adapters/auth/api-keys.ts';
import { ClientRegistry } from '../../../src/adapters/redis/client-registry.ts';
import { T0, testStore } from '../../support/store.ts';

/** The client registry against real Redis: every key it touches, and what a key authenticates to. */
let ctx: ReturnType<typeof testStore>;
let clock: number;
let registry: ClientRegistry;

beforeEach(() => {
  ctx = testStore();
  clock = T0;
  registry = new ClientRegistry(ctx.redis, ctx.keys, () => clock);
});
afterEach(() => ctx.close());

const created = async (clientId: string, fields: Record<string, unknown> = {}) => {
  const r = await registry.put({ clientId, tier: 'free', ...fields }, 'create');
  if (r.outcome !== 'created' || r.apiKey === null) throw new Error(`not created: ${JSON.stringify(r)}`);
  return r;
};
/** Every key under the test's prefix with its content, to check what the registry stores. */
const dump = async () => {
  const keys = (await ctx.redis.keys(`${ctx.prefix}:*`)).sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const type = await ctx.redis.type(k);
    out[k] =
      type === 'hash'
        ? await ctx.redis.hgetall(k)
        : type === 'set'
          ? (await ctx.redis.smembers(k)).sort()
          : type === 'zset'
            ? await ctx.redis.zrange(k, '0', '-1')
            : await ctx.redis.get(k);
  }
  return out;
};

describe('client registry', () => {
  test('create stores the hash, the id and the digest entry, never the key; defaults enabled, enqueue,read', async () => {
    const { client, apiKey } = await created('svc-a');
    expect(client).toEqual({
      clientId: 'svc-a',
      tier: 'free',
      enabled: true,
      scopes: ['enqueue', 'read'],
      createdAt: T0,
      updatedAt: T0,
    });
    const digest = digestApiKey(apiKey as string);
    expect(await dump()).toEqual({
      [ctx.keys.client('svc-a')]: {
        tier: 'free',
        enabled: '1',
        scopes: 'enqueue,read',
        digest,
        createdAt: String(T0),
        updatedAt: String(T0),
      },
      [ctx.keys.clients]: ['svc-a'],
      [ctx.keys.apiKey(digest)]: 'svc-a',
    });
    expect(JSON.stringify(await dump())).not.toContain((apiKey as string).slice(4));
  });

  test('the key authenticates to its client; tier stays a plain hash field (read by HGET in Lua)', async () => {
    const { apiKey } = await created('svc-a', { scopes: ['read', 'audit'] });
    expect(await registry.authenticate(apiKey as string)).toEqual({
      clientId: 'svc-a',
      tier: 'free',
      enabled: true,
      scopes: new Set(['read', 'audit']),
    });
    expect(await ctx.redis.hget(ctx.keys.client('svc-a'), 'tier')).toBe('free');
  });

  test('an unknown key authenticates to nothing', async () => {
    await created('svc-a');
    expect(await registry.authenticate(`tdk_${'x'.repeat(43)}`)).toBeNull();
  });

  test('create of an existing client is refused and changes nothing', async () => {
    const { apiKey } = await created('svc-a');
    const before = await dump();
    clock += 1000;
    expect(await registry.put({ clientId: 'svc-a', tier: 'basic' }, 'create')).toEqual({ outcome: 'exists' });
    expect(await dump()).toEqual(before);
    expect(await registry.authenticate(apiKey as string)).not.toBeNull();
  });

  test('upsert of an existing client changes what it names, keeps the rest and the key', async () => {
    const { apiKey } = await created('svc-a', { scopes: ['read'] });
    clock += 1000;
    const r = await registry.put({ clientId: 'svc-a', tier: 'basic' }, 'upsert');
    expect(r).toEqual({
      outcome: 'updated',
      apiKey: null,
      client: {
        clientId: 'svc-a',
        tier: 'basic',
        enabled: true,
        scopes: ['read'],
        createdAt: T0,
        updatedAt: T0 + 1000,
      },
    });
    expect((await registry.authenticate(apiKey as string))?.tier).toBe('basic');
  });

  test('upsert of a new client creates it with a key', async () => {
    const r = await registry.put({ clientId: 'svc-b', tier: 'free', enabled: false }, 'upsert');
    expect(r).toMatchObject({ outcome: 'created', client: { enabled: false, scopes: ['enqueue', 'read'] } });
    expect(r.outcome === 'created' && r.apiKey).toMatch(/^tdk_/);
  });

  test('update of a missing client is refused and writes nothing', async () => {
    expect(await registry.put({ clientId: 'ghost', enabled: false }, 'update')).toEqual({ outcome: 'missing' });
    expect(await registry.rotate('ghost')).toBeNull();
    expect(await registry.setEnabled('ghost', true)).toBeNull();
    expect(await dump()).toEqual({});
  });

  test('rotate: the new key works, the old one at once does not, and its entry is gone', async () => {
    const { apiKey: old } = await created('svc-a');
    const rotated = await registry.rotate('svc-a');
    expect(rotated?.apiKey).toMatch(/^tdk_/);
    expect(rotated?.apiKey).not.toBe(old);
    expect(await registry.authenticate(old as string)).toBeNull();
    expect((await registry.authenticate(rotated?.apiKey as string))?.clientId).toBe('svc-a');
    expect(await ctx.redis.exists(ctx.keys.apiKey(digestApiKey(old as string)))).toBe(0);
  });

  test('a stale key entry (left behind by anything) does not let the replaced key in: the digests must match', async () => {
    const { apiKey: old } = await created('svc-a');
    await registry.rotate('svc-a');
    await ctx.redis.set(ctx.keys.apiKey(digestApiKey(old as string)), 'svc-a');
    expect(await registry.authenticate(old as string)).toBeNull();
  });

  test('disable and enable: the key still authenticates, with enabled false then true', async () => {
    const { apiKey } = await created('svc-a');
    expect((await registry.setEnabled('svc-a', false))?.enabled).toBe(false);
    expect((await registry.authenticate(apiKey as string))?.enabled).toBe(false);
    expect((await registry.setEnabled('svc-a', true))?.enabled).toBe(true);
    expect((await registry.authenticate(apiKey as string))?.enabled).toBe(true);
  });

  test('delete removes the client, its key entry and its rate window; its key stops working', async () => {
    const { apiKey } = await created('svc-a');
    await created('svc-b');
    await ctx.redis.zadd(ctx.keys.rateWindow('svc-a'), T0, 'task-1');
    expect(await registry.remove('svc-a')).toBe(true);
    expect(await registry.authenticate(apiKey as string)).toBeNull();
    expect(
      Object.keys(await dump()).filter((k) => k.includes('svc-a') || k.endsWith(digestApiKey(apiKey as string))),
    ).toEqual([]);
    expect(await registry.list()).toMatchObject([{ clientId: 'svc-b' }]);
    expect(await registry.remove('svc-a')).toBe(false);
  });

  test('list is by id and count follows', async () => {
    for (const id of ['svc-c', 'svc-a', 'svc-b']) await created(id);
    expect((await registry.list()).map((c) => c.clientId)).toEqual(['svc-a', 'svc-b', 'svc-c']);
    expect(await registry.count()).toBe(3);
  });
});
