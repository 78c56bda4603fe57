import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { ledgerStart } from '../../src/adapters/redis/ledger.ts';
import { eventually, spawnService } from '../support/child-service.ts';
import { finishTask } from '../support/finished-tasks.ts';
import { taskHash } from '../support/redis-state.ts';
import { redisUrl, testStore } from '../support/store.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('a worker process runs retention as configured: expunges, archives, trims, and stops on SIGTERM', async () => {
  const { store, redis, keys, prefix, close } = testStore();
  cleanups.push(close);
  const dir = mkdtempSync(join(tmpdir(), 'td-retention-worker-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  await store.ensureQueues(['default']);
  await finishTask(store, 'old-a', 'succeeded', Date.now() - 86_400_000);
  await finishTask(store, 'old-b', 'cancelled', Date.now() - 86_400_000);

  const worker = spawnService({
    MODE: 'worker',
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    // 3.6 s: the ledger entries written above become old enough to archive and trim within the test
    RETENTION_HOURS: '0.001',
    RETENTION_INTERVAL_SEC: '0.2',
    LEDGER_ARCHIVE_DIR: dir,
  });
  cleanups.push(() => {
    if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    return worker.exited;
  });

  await eventually(
    async () => [await taskHash(redis, keys, 'old-a'), await taskHash(redis, keys, 'old-b')],
    (hashes) => hashes.every((h) => Object.keys(h).length === 0),
  );
  // settles once everything is archived: the ledger is trimmed to the last archived entry, which it keeps
  await eventually(
    async () => ({ start: await ledgerStart(redis, keys), archived: await redis.get(keys.archive) }),
    ({ start, archived }) => start.trimmed && archived !== null && archived === start.firstId,
    20_000,
  );
  expect(readdirSync(dir).filter((f) => /^ledger-\d{4}-\d{2}-\d{2}\.ndjson$/.test(f)).length).toBeGreaterThan(0);

  worker.process.kill('SIGTERM');
  expect(await worker.exited).toEqual({ code: 0, signal: null });
});
