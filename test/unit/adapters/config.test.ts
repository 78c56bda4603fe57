import { expect, test } from 'vitest';
import { loadConfig } from '../../../src/adapters/config/env.ts';
import { parseSentinels } from '../../../src/adapters/redis/client.ts';

test('defaults are the seed’s', () => {
  const c = loadConfig({});
  expect(c).toMatchObject({
    PORT: 8080,
    MODE: 'both',
    WORKER_CONCURRENCY: 10,
    TASK_TIMEOUT_SEC: 1800,
    MAX_RETRY: 5,
    RETRY_MIN_BACKOFF_SEC: 1,
    RETRY_MAX_BACKOFF_SEC: 3600,
    LOG_LEVEL: 'info',
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_MASTER_NAME: 'mymaster',
  });
});

test('backoff seconds accept decimals', () => {
  const c = loadConfig({ RETRY_MIN_BACKOFF_SEC: '0.25', RETRY_MAX_BACKOFF_SEC: '2.5' });
  expect([c.RETRY_MIN_BACKOFF_SEC, c.RETRY_MAX_BACKOFF_SEC]).toEqual([0.25, 2.5]);
});

test('an empty variable counts as unset', () => {
  expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
});

test.each([
  [{ PORT: 'abc' }, /PORT="abc"/],
  [{ MODE: 'sideways' }, /MODE="sideways" must be one of api, worker, both/],
  [{ WORKER_CONCURRENCY: '0' }, /WORKER_CONCURRENCY="0"/],
  [{ MAX_RETRY: '2.5' }, /MAX_RETRY="2.5"/],
  [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud" must be one of/],
  [{ RETRY_MIN_BACKOFF_SEC: '10', RETRY_MAX_BACKOFF_SEC: '5' }, /RETRY_MAX_BACKOFF_SEC must be at least/],
])('rejects %j, naming the variable', (env, message) => {
  expect(() => loadConfig(env)).toThrow(message);
});

test('sentinel addresses: a comma-separated list, default port 26379, IPv6 in brackets', () => {
  expect(parseSentinels('a:26380, b ,[::1]:26381')).toEqual([
    { host: 'a', port: 26380 },
    { host: 'b', port: 26379 },
    { host: '::1', port: 26381 },
  ]);
  expect(() => parseSentinels('a:x')).toThrow(/REDIS_SENTINEL_ADDR/);
});
