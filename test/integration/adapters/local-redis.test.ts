import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { ensureLocalRedis } from '../../../src/adapters/redis/local-server.ts';
import { freePort, startRedisServer } from '../../support/redis-server.ts';
import { silentLog } from '../../support/store.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('starts a redis-server with an append-only file when nothing answers on the port', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'td-local-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const child = await ensureLocalRedis(join(dir, 'data'), silentLog, { port });
  expect(child).not.toBeNull();
  cleanups.push(() => child?.kill('SIGKILL'));
  const redis = new Redis(`redis://127.0.0.1:${port}`);
  cleanups.push(() => redis.disconnect());
  await redis.set('k', 'v');
  expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  expect(existsSync(join(dir, 'data'))).toBe(true);
  expect(readdirSync(join(dir, 'data')).some((f) => f.startsWith('appendonly'))).toBe(true);
});

test('uses a Redis that already answers instead of starting one', async () => {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  expect(await ensureLocalRedis('/nonexistent', silentLog, { port: server.port })).toBeNull();
});

test('without a redis-server binary it says how to install one or set REDIS_URL', async () => {
  const port = await freePort();
  await expect(ensureLocalRedis('/tmp/unused', silentLog, { port, binary: 'no-such-redis-server' })).rejects.toThrow(
    /install one .* or set REDIS_URL/,
  );
});
