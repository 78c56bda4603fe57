import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { loadConfig } from '../../src/adapters/config/env.ts';
import { connected, createRedis } from '../../src/adapters/redis/client.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../src/api/app.ts';
import { freePort, startRedisServer } from '../support/redis-server.ts';
import { silentLog } from '../support/store.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A password-protected master and one sentinel (also password-protected) on loopback ports. */
const startSentinel = async (masterPort: number) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'td-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'requirepass sentinel-secret',
      `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
      'sentinel auth-pass mymaster master-secret',
      'sentinel down-after-milliseconds mymaster 2000',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  cleanups.push(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const probe = new Redis({ port, password: 'sentinel-secret', lazyConnect: true, retryStrategy: () => 50 });
  probe.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect().catch(() => {});
      const master = await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster');
      if (master) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  probe.disconnect();
  return port;
};

test('with REDIS_SENTINEL_ADDR set it finds the master through Sentinel and serves the API', async () => {
  const master = await startRedisServer(['--requirepass', 'master-secret']);
  cleanups.push(() => master.stop());
  const sentinelPort = await startSentinel(master.port);
  const config = loadConfig({
    REDIS_SENTINEL_ADDR: `127.0.0.1:1,127.0.0.1:${sentinelPort}`, // the first sentinel is down: the next is tried
    REDIS_MASTER_NAME: 'mymaster',
    REDIS_PASSWORD: 'master-secret',
    REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
  });
  const redis = createRedis(config, 'worker', 'sentinel-test');
  redis.on('error', () => {});
  cleanups.push(() => redis.disconnect());
  await connected(redis);
  const store = new RedisTaskStore(redis, redisKeys('td'));
  const app = await buildApp({ store, queueNames: ['critical', 'default', 'low'], log: silentLog, authMode: 'open' });
  cleanups.push(() => app.close());

  const res = await app.inject({
    method: 'POST',
    url: '/v1/enqueue',
    payload: { client_id: 'sentinel-test', task: { url: 'http://127.0.0.1:9/x' } },
  });
  expect(res.statusCode).toBe(200);
  const direct = new Redis(master.url, { password: 'master-secret' });
  cleanups.push(() => direct.disconnect());
  expect(await direct.exists(`td:{p0}:task:${res.json().task_id}`)).toBe(1);
});
