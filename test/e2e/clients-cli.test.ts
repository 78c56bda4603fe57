import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ClientRegistry } from '../../src/adapters/redis/client-registry.ts';
import { runCli } from '../support/child-cli.ts';
import { type ChildService, spawnService } from '../support/child-service.ts';
import { freePort } from '../support/redis-server.ts';
import { redisUrl, testStore } from '../support/store.ts';

/**
 * `task-dispatcher clients ...` as an operator runs it (a child process on the test's Redis), and the first start
 * of a fresh install in AUTH_MODE=keys: the service says how to make the first key, the CLI makes it, it works.
 */
let ctx: ReturnType<typeof testStore>;
let registry: ClientRegistry;
let env: Record<string, string>;
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  ctx = testStore();
  registry = new ClientRegistry(ctx.redis, ctx.keys);
  env = { REDIS_URL: redisUrl(), REDIS_PREFIX: ctx.prefix, TIERS: 'free:5:1,pro:50:5' };
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => ctx.close());

const cli = (...args: string[]) => runCli(['clients', ...args], env);
const lastLine = (out: string) => out.trimEnd().split('\n').at(-1) as string;

describe('clients CLI', () => {
  test('list on a fresh install says how to create a client', async () => {
    const r = await cli('list');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no clients registered; create one: task-dispatcher clients create <id>');
  });

  let firstKey = '';
  test('create prints the client as a table and its key once, on the last line; the key works', async () => {
    const r = await cli('create', 'cli-one', '--tier', 'pro', '--scopes', 'read,audit');
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.split('\n');
    expect(header?.split(/\s+/)).toEqual(['client', 'tier', 'enabled', 'scopes', 'created', 'updated']);
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['cli-one', 'pro', 'yes', 'read,audit']);
    firstKey = lastLine(r.stdout);
    expect(firstKey).toMatch(/^tdk_[A-Za-z0-9_-]{43}$/);
    expect(await registry.authenticate(firstKey)).toMatchObject({ clientId: 'cli-one', tier: 'pro', enabled: true });
  });

  test('create without options: tier free, scopes enqueue,read', async () => {
    const r = await cli('create', 'cli-two');
    expect(r.code).toBe(0);
    expect(await registry.get('cli-two')).toMatchObject({ tier: 'free', scopes: ['enqueue', 'read'] });
  });

  test('create of an existing client fails (exit 1) and points to rotate; the key is unchanged', async () => {
    const r = await cli('create', 'cli-one');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('client cli-one already exists; issue a new key with: task-dispatcher clients rotate');
    expect(await registry.authenticate(firstKey)).not.toBeNull();
  });

  test.each([
    [['create', 'bad.id'], 'client id "bad.id": expected a string of 3-64 characters'],
    [['create', 'cli-three', '--tier', 'gold'], '--tier "gold": expected one of free, pro'],
    [['create', 'cli-three', '--scopes', 'read,root'], '--scopes "read,root": expected enqueue, read, audit, admin'],
    [['create', 'cli-three', '--colour', 'red'], 'unexpected argument "--colour"'],
    [['create', 'cli-three', '--tier'], '--tier needs a value'],
    [['rotate'], 'name the client'],
  ])('%j is a usage error (exit 2) naming what is wrong; nothing is created', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await registry.get('cli-three')).toBeNull();
  });

  test('rotate prints a new key; the old one stops working', async () => {
    const r = await cli('rotate', 'cli-one');
    expect(r.code).toBe(0);
    const newKey = lastLine(r.stdout);
    expect(newKey).not.toBe(firstKey);
    expect(await registry.authenticate(firstKey)).toBeNull();
    expect(await registry.authenticate(newKey)).toMatchObject({ clientId: 'cli-one' });
    firstKey = newKey;
  });

  test('disable and enable', async () => {
    const off = await cli('disable', 'cli-one');
    expect(off.stdout.split('\n')[1]?.split(/\s+/).slice(0, 3)).toEqual(['cli-one', 'pro', 'no']);
    expect((await registry.authenticate(firstKey))?.enabled).toBe(false);
    await cli('enable', 'cli-one');
    expect((await registry.authenticate(firstKey))?.enabled).toBe(true);
  });

  test('list shows every client and never a key', async () => {
    const r = await cli('list');
    expect(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['client', 'cli-one', 'cli-two']);
    expect(r.stdout).not.toContain('tdk_');
  });

  test('delete: the key stops working; deleting again or an unknown client fails (exit 1)', async () => {
    expect((await cli('delete', 'cli-one')).code).toBe(0);
    expect(await registry.authenticate(firstKey)).toBeNull();
    for (const args of [
      ['delete', 'cli-one'],
      ['rotate', 'cli-one'],
      ['disable', 'nobody'],
    ]) {
      const r = await cli(...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no client (cli-one|nobody)/);
    }
  });
});

describe('first start of a fresh install', () => {
  const start = async (extra: Record<string, string>) => {
    const store = testStore();
    const port = await freePort();
    const service: ChildService = spawnService({
      MODE: 'api',
      PORT: String(port),
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: store.prefix,
      LOG_LEVEL: 'warn',
      ...extra,
    });
    cleanups.push(store.close, () => {
      if (service.process.exitCode === null) service.process.kill('SIGKILL');
      return service.exited;
    });
    return { service, port, prefix: store.prefix };
  };

  test('AUTH_MODE=keys (the default) with no client: a warning says how to create one; then the key works', async () => {
    const { service, port, prefix } = await start({ AUTH_MODE: 'keys' });
    const hint = await service.waitForLog((l) => String(l.msg).startsWith('no API client is registered yet'));
    expect(hint.create).toBe('npm run cli -- clients create my-service');
    const url = `http://127.0.0.1:${port}/v1/enqueue`;
    const body = JSON.stringify({ client_id: 'my-service', delay: 3600, task: { url: 'http://127.0.0.1:9/x' } });
    const post = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post({})).status).toBe(401);
    const created = await runCli(['clients', 'create', 'my-service'], { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix });
    expect(created.code).toBe(0);
    const res = await post({ authorization: `Bearer ${lastLine(created.stdout)}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe('10;w=60');
  });

  test('AUTH_MODE=open: a warning that it is for local development only', async () => {
    const { service } = await start({ AUTH_MODE: 'open' });
    const warning = await service.waitForLog((l) => String(l.msg).startsWith('AUTH_MODE=open'));
    expect(warning.level).toBe(40);
    expect(String(warning.msg)).toContain('for local development only');
  });
});
