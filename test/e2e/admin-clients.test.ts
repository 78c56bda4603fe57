import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { digestApiKey } from '../../src/adapters/auth/api-keys.ts';
import { buildApp } from '../../src/api/app.ts';
import { bearer, call, laterTask } from '../support/api-clients.ts';
import { startService } from '../support/service.ts';
import { silentLog } from '../support/store.ts';

/** The client registry's admin API (X-Admin-Key) through the real service in AUTH_MODE=keys. */
const ADMIN_KEY = 'admin-clients-test-key';
const TIERS = 'free:5:1,pro:50:5';
const admin = { 'x-admin-key': ADMIN_KEY };

let service: Awaited<ReturnType<typeof startService>>;
beforeAll(async () => {
  service = await startService({ authMode: 'keys', adminKey: ADMIN_KEY, tiers: TIERS });
});
afterAll(() => service.stop());

const adminCall = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  call(service.app, method, url, admin, payload);
const enqueueWith = (key: string, clientId: string) =>
  call(service.app, 'POST', '/v1/enqueue', bearer(key), laterTask(clientId));
/** Every key and digest a test has seen, to prove no GET ever shows one. */
const secrets: string[] = [];
const create = async (body: Record<string, unknown>) => {
  const res = await adminCall('POST', '/admin/clients', body);
  expect(res.status).toBe(201);
  secrets.push(res.body.api_key, digestApiKey(res.body.api_key));
  return res.body as { api_key: string } & Record<string, unknown>;
};

describe('POST /admin/clients', () => {
  test('creates a client: 201 with its API key, shown this once, and the defaults', async () => {
    const created = await create({ client_id: 'shop-a', tier: 'free' });
    expect(created).toEqual({
      client_id: 'shop-a',
      tier: 'free',
      enabled: true,
      scopes: ['enqueue', 'read'],
      created_at: expect.any(String),
      updated_at: expect.any(String),
      api_key: expect.stringMatching(/^tdk_[A-Za-z0-9_-]{43}$/),
    });
    expect((await enqueueWith(created.api_key, 'shop-a')).status).toBe(200);
  });

  test('updating an existing client: 200, no new key, the old key keeps working, omitted fields kept', async () => {
    const { api_key: key } = await create({ client_id: 'shop-b', tier: 'free', scopes: ['enqueue', 'read', 'audit'] });
    const res = await adminCall('POST', '/admin/clients', { client_id: 'shop-b', tier: 'pro' });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('api_key');
    expect(res.body).toMatchObject({ tier: 'pro', enabled: true, scopes: ['enqueue', 'read', 'audit'] });
    expect((await enqueueWith(key, 'shop-b')).status).toBe(200);
  });

  test('rotate_key: true on an update issues a new key; the old one stops working', async () => {
    const { api_key: old } = await create({ client_id: 'shop-c', tier: 'free' });
    const res = await adminCall('POST', '/admin/clients', { client_id: 'shop-c', tier: 'free', rotate_key: true });
    expect(res.status).toBe(200);
    secrets.push(res.body.api_key, digestApiKey(res.body.api_key));
    expect(res.body.api_key).toMatch(/^tdk_/);
    expect((await enqueueWith(old, 'shop-c')).status).toBe(401);
    expect((await enqueueWith(res.body.api_key, 'shop-c')).status).toBe(200);
  });

  test('an unknown tier: 400 naming tier and the allowed names; nothing is created', async () => {
    const res = await adminCall('POST', '/admin/clients', { client_id: 'shop-x', tier: 'gold' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'tier', expected: 'one of free, pro (the tiers in TIERS)' }]);
    expect((await adminCall('GET', '/admin/clients/shop-x')).status).toBe(404);
  });

  test('a bad client_id or scope: 400 naming each field', async () => {
    const res = await adminCall('POST', '/admin/clients', { client_id: 'a b', tier: 'free', scopes: ['root'] });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['client_id', 'scopes']);
  });
});

describe('reading clients never shows a key or its digest', () => {
  test('GET /admin/clients lists every client without keys', async () => {
    const res = await adminCall('GET', '/admin/clients');
    expect(res.status).toBe(200);
    expect(res.body.clients.map((c: { client_id: string }) => c.client_id)).toEqual(
      expect.arrayContaining(['shop-a', 'shop-b', 'shop-c']),
    );
    for (const c of res.body.clients) {
      expect(Object.keys(c).sort()).toEqual(['client_id', 'created_at', 'enabled', 'scopes', 'tier', 'updated_at']);
    }
    const text = JSON.stringify(res.body);
    for (const s of secrets) expect(text).not.toContain(s);
  });

  test('GET /admin/clients/:id shows one client without its key; 404 for an unknown one', async () => {
    const res = await adminCall('GET', '/admin/clients/shop-a');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ client_id: 'shop-a', tier: 'free', enabled: true });
    const text = JSON.stringify(res.body);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toContain('digest');
    expect((await adminCall('GET', '/admin/clients/nobody')).status).toBe(404);
    expect((await adminCall('GET', '/admin/clients/bad%20id')).status).toBe(404);
  });
});

describe('keys stop working', () => {
  test('POST /admin/clients/:id/keys rotates: 201 with the new key, the old one answers 401', async () => {
    const { api_key: old } = await create({ client_id: 'shop-d', tier: 'free' });
    const res = await adminCall('POST', '/admin/clients/shop-d/keys');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ client_id: 'shop-d', api_key: expect.stringMatching(/^tdk_/) });
    expect((await enqueueWith(old, 'shop-d')).status).toBe(401);
    expect((await enqueueWith(res.body.api_key, 'shop-d')).status).toBe(200);
    expect((await adminCall('POST', '/admin/clients/nobody/keys')).status).toBe(404);
  });

  test('disabling a client: its key answers 403 client_disabled; enabling it again lets it in', async () => {
    const { api_key: key } = await create({ client_id: 'shop-e', tier: 'free' });
    expect(
      (await adminCall('POST', '/admin/clients', { client_id: 'shop-e', tier: 'free', enabled: false })).status,
    ).toBe(200);
    const refused = await enqueueWith(key, 'shop-e');
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('client_disabled');
    await adminCall('POST', '/admin/clients', { client_id: 'shop-e', tier: 'free', enabled: true });
    expect((await enqueueWith(key, 'shop-e')).status).toBe(200);
  });

  test('DELETE /admin/clients/:id: the key answers 401, the client is gone; a second delete is 404', async () => {
    const { api_key: key } = await create({ client_id: 'shop-f', tier: 'free' });
    const res = await adminCall('DELETE', '/admin/clients/shop-f');
    expect(res).toMatchObject({ status: 200, body: { client_id: 'shop-f', deleted: true } });
    expect((await enqueueWith(key, 'shop-f')).status).toBe(401);
    expect((await adminCall('GET', '/admin/clients/shop-f')).status).toBe(404);
    expect((await adminCall('DELETE', '/admin/clients/shop-f')).status).toBe(404);
  });
});

describe('the admin guard', () => {
  test('GET /admin/tiers lists TIERS', async () => {
    expect((await adminCall('GET', '/admin/tiers')).body).toEqual({
      tiers: [
        { name: 'free', requests_per_minute: 5, max_in_flight: 1 },
        { name: 'pro', requests_per_minute: 50, max_in_flight: 5 },
      ],
    });
  });

  test('without X-Admin-Key 401, with a wrong one 403, with a client’s API key as Bearer 401', async () => {
    const { api_key: key } = await create({ client_id: 'shop-g', tier: 'free', scopes: ['admin'] });
    for (const [method, url] of [
      ['GET', '/admin/clients'],
      ['POST', '/admin/clients'],
      ['GET', '/admin/clients/shop-g'],
      ['DELETE', '/admin/clients/shop-g'],
      ['POST', '/admin/clients/shop-g/keys'],
      ['GET', '/admin/tiers'],
    ] as const) {
      expect((await call(service.app, method, url)).status).toBe(401);
      expect((await call(service.app, method, url, { 'x-admin-key': 'wrong' })).status).toBe(403);
      expect((await call(service.app, method, url, bearer(key))).status).toBe(401);
    }
    expect((await adminCall('GET', '/admin/clients/shop-g')).status).toBe(200);
  });

  test('without ADMIN_API_KEY the clients API is disabled: 403 even with a key', async () => {
    const app = await buildApp({ store: service.store, queueNames: ['default'], log: silentLog });
    try {
      for (const headers of [{}, admin]) {
        const res = await call(app, 'GET', '/admin/clients', headers);
        expect(res).toMatchObject({ status: 403, body: { error: 'admin_disabled' } });
      }
    } finally {
      await app.close();
    }
  });
});
