import { randomBytes } from 'node:crypto';
import { afterEach, expect, test } from 'vitest';
import { spawnService } from '../support/child-service.ts';
import { freePort } from '../support/redis-server.ts';
import { redisUrl, testStore } from '../support/store.ts';

/**
 * A process that stores tasks (the API) in AUTH_MODE=keys without ENCRYPTION_KEY says once, at start, that
 * secret header values go to Redis as given and how to set a key. Each case runs `node src/main.ts` until it
 * has stopped, so every line it would log at start is in.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const startupLogs = async (env: Record<string, string>) => {
  const store = testStore();
  cleanups.push(store.close);
  const service = spawnService({
    PORT: String(await freePort()),
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: store.prefix,
    ENCRYPTION_KEY: '',
    ...env,
  });
  cleanups.push(() => {
    if (service.process.exitCode === null) service.process.kill('SIGKILL');
    return service.exited;
  });
  await service.waitForLog((l) => l.msg === 'task dispatcher started', 40_000);
  service.process.kill('SIGTERM');
  // the exit, not a log line with a deadline: under a loaded CI machine a worker's orderly stop can take a while
  expect(await service.exited).toEqual({ code: 0, signal: null });
  return service.logs;
};

const isKeyWarning = (l: Record<string, unknown>) => String(l.msg).startsWith('ENCRYPTION_KEY is not set');

test('AUTH_MODE=keys without ENCRYPTION_KEY: one warning that secrets are stored as given, and how to set a key', async () => {
  const logs = await startupLogs({ MODE: 'api', AUTH_MODE: 'keys' });
  const warnings = logs.filter(isKeyWarning);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatchObject({ level: 40, generate: 'openssl rand -base64 32' });
  expect(String(warnings[0]?.msg)).toContain('stored in Redis as given');
  expect(String(warnings[0]?.msg)).toContain('set ENCRYPTION_KEY');
}, 90_000);

test.each([
  [
    'AUTH_MODE=keys with ENCRYPTION_KEY',
    { MODE: 'api', AUTH_MODE: 'keys', ENCRYPTION_KEY: randomBytes(32).toString('base64') },
  ],
  ['AUTH_MODE=open (local development)', { MODE: 'api', AUTH_MODE: 'open' }],
  ['a worker-only process (it stores no requests)', { MODE: 'worker', AUTH_MODE: 'keys' }],
])(
  '%s: no such warning',
  async (_, env) => {
    const logs = await startupLogs(env);
    expect(logs.some((l) => l.msg === 'task dispatcher started')).toBe(true);
    expect(logs.filter(isKeyWarning)).toEqual([]);
  },
  90_000,
);
