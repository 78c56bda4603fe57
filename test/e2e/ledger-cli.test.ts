import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readLedger } from '../../src/adapters/redis/ledger.ts';
import { decodeArchiveLine } from '../../src/adapters/redis/ledger-archive.ts';
import { generationsOf } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES, PROJECTIONS } from '../../src/projections/index.ts';
import type { LedgerEvent } from '../../src/projections/projection.ts';
import { Projector } from '../../src/projections/projector.ts';
import { activeKey, dailyUsage } from '../../src/projections/read-models.ts';
import { Retention } from '../../src/projections/retention.ts';
import { TASKS_PROJECTION, taskIndexKeys } from '../../src/projections/task-index.ts';
import { runCli } from '../support/child-cli.ts';
import { sleepMs } from '../support/commits.ts';
import { finishTask } from '../support/finished-tasks.ts';
import { redisUrl, silentLog, testStore } from '../support/store.ts';

/** `task-dispatcher ledger export` and `ledger replay`, run as an operator would: `node src/cli.ts …`. */

const DAY = 86_400_000;
const RETENTION = DAY;

let ctx: ReturnType<typeof testStore>;
let dir: string;
let env: Record<string, string>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default']);
  dir = mkdtempSync(join(tmpdir(), 'td-ledger-cli-'));
  env = { REDIS_URL: redisUrl(), REDIS_PREFIX: ctx.prefix };
});
afterEach(async () => {
  rmSync(dir, { recursive: true, force: true });
  await ctx.close();
});

const ledgerEvents = async (start = '-', before = '+') => {
  const out: LedgerEvent[] = [];
  for await (const page of readLedger(ctx.redis, ctx.keys, { start, before })) out.push(...page);
  return out;
};

const decodeLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map(decodeArchiveLine);

describe('ledger export', () => {
  test('writes the entries added in [since, until) as NDJSON, to a file or to stdout, with a summary on stderr', async () => {
    await finishTask(ctx.store, 'before', 'cancelled', Date.now());
    await sleepMs(5);
    const since = Date.now();
    await finishTask(ctx.store, 'inside-1', 'succeeded', Date.now());
    await finishTask(ctx.store, 'inside-2', 'failed', Date.now());
    await sleepMs(5);
    const until = Date.now();
    await sleepMs(5);
    await finishTask(ctx.store, 'after', 'cancelled', Date.now());
    const inRange = await ledgerEvents(`${since}-0`, `${until}-0`);
    expect(new Set(inRange.map((e) => e.taskId))).toEqual(new Set(['inside-1', 'inside-2']));
    const range = ['--since', new Date(since).toISOString(), '--until', new Date(until).toISOString()];

    const out = join(dir, 'export.ndjson');
    const toFile = await runCli(['ledger', 'export', ...range, '--out', out], env);
    expect(toFile).toMatchObject({ code: 0, stdout: '' });
    expect(toFile.stderr).toContain(`exported ${inRange.length} events`);
    expect(decodeLines(readFileSync(out, 'utf8'))).toEqual(inRange);

    const toStdout = await runCli(['ledger', 'export', ...range], env);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(readFileSync(out, 'utf8'));
  });

  test.each([
    [['--until', '2026-11-28T00:00:00Z'], /ledger export needs --since <RFC 3339 time>/],
    [['--since', '2026-11-27T00:00:00Z', '--until', 'tomorrow'], /--until "tomorrow" is not an RFC 3339 time/],
    [['--since', '2026-02-30', '--until', '2026-03-05'], /--since "2026-02-30" is not an RFC 3339 time/],
    [['--since', '2026-11-28', '--until', '2026-11-27'], /--until \(2026-11-27T00:00:00.000Z\) must be after --since/],
    [['--since', '2026-11-27', '--until', '2026-11-28', '--format', 'csv'], /Unknown option '--format'/],
  ])('refuses %j with a message naming the argument (exit 2)', async (args, message) => {
    const result = await runCli(['ledger', 'export', ...args], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

describe('ledger replay', () => {
  let projector: Projector;
  beforeEach(() => {
    projector = new Projector({
      redis: ctx.redis,
      blocking: ctx.redis,
      keys: ctx.keys,
      projections: PROJECTIONS,
      log: silentLog,
    });
  });
  afterEach(() => projector.stop());

  const projectAll = async () => {
    while ((await projector.step()) > 0);
  };
  const usage = () => dailyUsage(ctx.redis, ctx.keys, { queue: 'default' }, Date.now(), 5);
  const finishedList = async () =>
    ctx.redis.zrange(taskIndexKeys(await activeKey(ctx.redis, ctx.keys, TASKS_PROJECTION)).finished, '0', '-1');

  /**
   * Tasks that finished two and three days ago, expunged, archived and trimmed from Redis by retention; the
   * projections built incrementally still count them. Returns their usage and the archive files.
   */
  const archivedHistory = async () => {
    for (let day = 3; day >= 2; day--) {
      await finishTask(ctx.store, `t-${day}-ok`, 'succeeded', Date.now() - day * DAY);
      await finishTask(ctx.store, `t-${day}-bad`, 'failed', Date.now() - day * DAY + 1);
    }
    await projectAll();
    const sweeper = new Retention({
      store: ctx.store,
      log: silentLog,
      retentionMs: RETENTION,
      intervalMs: 60_000,
      archiveDir: join(dir, 'archive'),
    });
    // the second cycle trims what the first one expunged, once the projections have applied it
    const pastEverything = () => Date.now() + RETENTION + 60_000;
    expect(await sweeper.sweep(pastEverything())).toMatchObject({ expunged: 4 });
    await projectAll();
    await sweeper.sweep(pastEverything());
    expect(await ledgerEvents()).toHaveLength(1);
    await projector.stop();
    const files = readdirSync(join(dir, 'archive'))
      .sort()
      .map((f) => join(dir, 'archive', f));
    return { incremental: await usage(), files };
  };

  test('after a trim, rebuilds read models that count the archived tasks again, and says so', async () => {
    const { incremental, files } = await archivedHistory();
    expect(incremental.filter((d) => d.enqueued > 0)).toHaveLength(2);

    // control: a rebuild from Redis alone no longer sees the trimmed days
    const plain = await runCli(['projections', 'rebuild', 'usage'], env);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('rebuild from the archive instead: task-dispatcher ledger replay');
    expect((await usage()).filter((d) => d.enqueued > 0)).toEqual([]);

    const before = await Promise.all(PROJECTION_NAMES.map((n) => generationsOf(ctx.redis, ctx.keys, n)));
    const replay = await runCli(['ledger', 'replay', ...files], env);

    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    // 4 tasks of 4 events each (enqueued, leased, attempted, succeeded or failed), and their expunged events
    expect(replay.stdout).toContain('replayed 20 events from 3 file(s)');
    expect(replay.stdout).toContain('The read models now count the archived history too');
    expect(await usage()).toEqual(incremental);
    expect(await finishedList()).toEqual([]);
    const after = await Promise.all(PROJECTION_NAMES.map((n) => generationsOf(ctx.redis, ctx.keys, n)));
    after.forEach((g, i) => {
      expect(g.building).toBeNull();
      expect(g.active).toBeGreaterThan(before[i]?.active ?? 0);
    });
  });

  test('refuses files that leave a hole before the ledger in Redis, and starts nothing', async () => {
    const { files } = await archivedHistory();
    const withoutNewest = files.slice(0, -1);

    const replay = await runCli(['ledger', 'replay', ...withoutNewest], env);

    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/the events in between are in neither\. Pass every ledger-\*\.ndjson file/);
    for (const name of PROJECTION_NAMES) {
      expect((await generationsOf(ctx.redis, ctx.keys, name)).building).toBeNull();
    }
  });

  test('refuses files from another ledger', async () => {
    const { files } = await archivedHistory();
    const other = testStore();
    try {
      const replay = await runCli(['ledger', 'replay', ...files], { ...env, REDIS_PREFIX: other.prefix });
      expect(replay.code).toBe(1);
      expect(replay.stderr).toMatch(/the files do not come from this ledger/);
    } finally {
      await other.close();
    }
  });

  test('without files, a usage error', async () => {
    const replay = await runCli(['ledger', 'replay'], env);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/ledger replay needs at least one FILE/);
  });
});
