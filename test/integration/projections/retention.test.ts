import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decodeEvent } from '../../../src/adapters/redis/codec.ts';
import { readLedger } from '../../../src/adapters/redis/ledger.ts';
import { mergeArchives } from '../../../src/adapters/redis/ledger-archive.ts';
import { record } from '../../../src/domain/task/events.ts';
import { startRebuild } from '../../../src/projections/generations.ts';
import { PROJECTIONS } from '../../../src/projections/index.ts';
import type { LedgerEvent } from '../../../src/projections/projection.ts';
import { Projector } from '../../../src/projections/projector.ts';
import { activeKey } from '../../../src/projections/read-models.ts';
import { Retention, type RetentionOptions } from '../../../src/projections/retention.ts';
import { TASKS_PROJECTION, taskIndexKeys } from '../../../src/projections/task-index.ts';
import { enqueue, sleepMs } from '../../support/commits.ts';
import { finishTask } from '../../support/finished-tasks.ts';
import { ledger, taskHash } from '../../support/redis-state.ts';
import { silentLog, testStore } from '../../support/store.ts';

const HOUR = 3_600_000;
const RETENTION = 24 * HOUR;

let ctx: ReturnType<typeof testStore>;
let projector: Projector;
let dirs: string[];

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default', 'critical']);
  projector = new Projector({
    redis: ctx.redis,
    blocking: ctx.redis,
    keys: ctx.keys,
    projections: PROJECTIONS,
    log: silentLog,
    batchSize: 50,
  });
  dirs = [];
});
afterEach(async () => {
  await projector.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await ctx.close();
});

const retention = (o: Partial<RetentionOptions> = {}) =>
  new Retention({ store: ctx.store, log: silentLog, retentionMs: RETENTION, intervalMs: 60_000, archiveDir: '', ...o });

/** Lets the projector apply everything in the ledger. */
const projectAll = async () => {
  while ((await projector.step()) > 0);
};

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'td-retention-'));
  dirs.push(dir);
  return dir;
};

const ledgerEvents = async () => {
  const out: LedgerEvent[] = [];
  for await (const page of readLedger(ctx.redis, ctx.keys, { start: '-', before: '+' })) out.push(...page);
  return out;
};

const tasksIndex = async () => {
  const k = taskIndexKeys(await activeKey(ctx.redis, ctx.keys, TASKS_PROJECTION));
  return {
    finished: await ctx.redis.zrange(k.finished, '0', '-1'),
    list: (queue: string, status: string) => ctx.redis.zrange(k.byQueue(queue, status), '0', '-1'),
  };
};

/** A time after every ledger entry so far, as `now` for a cycle whose cutoff is past all of them. */
const pastEverything = () => Date.now() + RETENTION + 60_000;

describe('retention: expunge', () => {
  test('expunges only finished tasks older than the cutoff; each leaves an expunged event in the ledger', async () => {
    const now = Date.now();
    const old = now - 2 * RETENTION;
    await finishTask(ctx.store, 'old-succeeded', 'succeeded', old);
    await finishTask(ctx.store, 'old-failed', 'failed', old);
    await finishTask(ctx.store, 'old-cancelled', 'cancelled', old, 'critical');
    await finishTask(ctx.store, 'recent-succeeded', 'succeeded', now - HOUR);
    // finished one ms after the cutoff: kept
    await finishTask(ctx.store, 'just-inside', 'succeeded', now - RETENTION - 1);
    await enqueue(ctx.store, 'old-pending', { at: old });
    await enqueue(ctx.store, 'old-scheduled', { at: old, delayMs: 1000 });
    await projectAll();

    const result = await retention().sweep(now);

    expect(result).toMatchObject({ ran: true, expunged: 3, conflicts: 0 });
    const expunged = (await ledger(ctx.redis, ctx.keys))
      .map(({ id, e }) => decodeEvent(id, e))
      .filter((e) => e.type === 'expunged');
    // in the order the tasks finished, then by id
    expect(expunged.map(({ taskId, version, at, data }) => ({ taskId, version, at, data }))).toEqual([
      {
        taskId: 'old-cancelled',
        version: 4,
        at: now,
        data: { by: 'retention', status: 'cancelled', queue: 'critical', clientId: 'client-1' },
      },
      {
        taskId: 'old-failed',
        version: 5,
        at: now,
        data: { by: 'retention', status: 'failed', queue: 'default', clientId: 'client-1' },
      },
      {
        taskId: 'old-succeeded',
        version: 5,
        at: now,
        data: { by: 'retention', status: 'succeeded', queue: 'default', clientId: 'client-1' },
      },
    ]);
    for (const id of ['old-succeeded', 'old-failed', 'old-cancelled']) {
      expect(await taskHash(ctx.redis, ctx.keys, id), id).toEqual({});
    }
    for (const id of ['recent-succeeded', 'just-inside', 'old-pending', 'old-scheduled']) {
      expect((await ctx.store.load(id))?.task.id, id).toBe(id);
    }
  });

  test('the tasks projection drops expunged tasks from its lists once it applies their events', async () => {
    const now = Date.now();
    await finishTask(ctx.store, 'old-succeeded', 'succeeded', now - 2 * RETENTION);
    await finishTask(ctx.store, 'old-cancelled', 'cancelled', now - 2 * RETENTION, 'critical');
    await finishTask(ctx.store, 'recent-succeeded', 'succeeded', now - HOUR);
    await projectAll();
    const before = await tasksIndex();
    expect(before.finished.sort()).toEqual(['old-cancelled', 'old-succeeded', 'recent-succeeded']);

    await retention().sweep(now);
    await projectAll();

    const after = await tasksIndex();
    expect(after.finished).toEqual(['recent-succeeded']);
    expect(await after.list('default', 'succeeded')).toEqual(['recent-succeeded']);
    expect(await after.list('critical', 'cancelled')).toEqual([]);
  });

  test('a task that changed since it was decided on is a conflict and stays', async () => {
    await finishTask(ctx.store, 'task-a', 'cancelled', Date.now());
    const snapshot = await ctx.store.load('task-a');
    if (!snapshot) throw new Error('task-a not stored');
    const [event] = record('task-a', 1, Date.now(), [
      { type: 'expunged', data: { by: 'retention', status: 'cancelled', queue: 'default', clientId: 'client-1' } },
    ]);
    if (!event) throw new Error('no event');
    expect(await ctx.store.expunge([{ taskId: 'task-a', expected: 1, event }])).toEqual([
      { kind: 'conflict', current: 3 },
    ]);
    expect((await ctx.store.load('task-a'))?.task.status).toBe('cancelled');
  });

  test('does nothing while another process holds the retention lock', async () => {
    await finishTask(ctx.store, 'old', 'succeeded', Date.now() - 2 * RETENTION);
    await projectAll();
    await ctx.redis.set(ctx.keys.retentionLock, 'someone-else', 'PX', 60_000);

    expect(await retention().sweep(Date.now())).toMatchObject({ ran: false, expunged: 0 });
    expect((await ctx.store.load('old'))?.task.status).toBe('succeeded');
  });

  test('expunges more tasks than one batch holds, also when many finished in the same ms', async () => {
    const old = Date.now() - 2 * RETENTION;
    for (let i = 0; i < 7; i++) await finishTask(ctx.store, `same-ms-${i}`, 'cancelled', old);
    for (let i = 0; i < 5; i++) await finishTask(ctx.store, `later-${i}`, 'cancelled', old + 10 + i);
    await projectAll();

    expect(await retention({ batchSize: 3 }).sweep(Date.now())).toMatchObject({ expunged: 12 });
  });
});

describe('retention: trim', () => {
  test('trims the ledger up to what every projection has applied, keeping the entry at the checkpoint', async () => {
    await finishTask(ctx.store, 'a', 'succeeded', Date.now());
    await finishTask(ctx.store, 'b', 'cancelled', Date.now());
    await projectAll();
    const applied = await ledgerEvents();

    // expunges a and b: their two new entries are not applied yet
    const first = await retention().sweep(pastEverything());

    expect(first).toMatchObject({ expunged: 2, trimmedTo: applied.at(-1)?.ledgerId, trimmed: applied.length - 1 });
    expect((await ledgerEvents()).map((e) => e.type)).toEqual(['cancelled', 'expunged', 'expunged']);

    await projectAll();
    const second = await retention().sweep(pastEverything());
    expect(second).toMatchObject({ trimmed: 2 });
    expect((await ledgerEvents()).map((e) => [e.taskId, e.type])).toEqual([['b', 'expunged']]);
  });

  test('trims nothing past the cutoff: entries newer than the retention stay', async () => {
    await finishTask(ctx.store, 'a', 'cancelled', Date.now());
    await projectAll();
    const before = await ledgerEvents();

    expect(await retention().sweep(Date.now())).toMatchObject({ trimmed: 0 });
    expect(await ledgerEvents()).toEqual(before);
  });

  test('never trims past an entry a generation being rebuilt has not applied', async () => {
    for (const id of ['a', 'b', 'c']) await finishTask(ctx.store, id, 'cancelled', Date.now());
    await projectAll();
    const { gen } = await startRebuild(ctx.redis, ctx.keys, 'usage', null);
    const before = await ledgerEvents();

    // the new generation has applied nothing yet: it needs the whole ledger
    expect(await retention().sweep(pastEverything())).toMatchObject({ trimmed: 0, trimmedTo: null });
    expect((await ledgerEvents()).slice(0, before.length)).toEqual(before);

    const rebuilder = new Projector({
      redis: ctx.redis,
      blocking: ctx.redis,
      keys: ctx.keys,
      projections: PROJECTIONS,
      log: silentLog,
      batchSize: 2,
      only: { name: 'usage', gen },
    });
    expect(await rebuilder.step()).toBe(2);
    await rebuilder.stop();
    const second = before[1] as LedgerEvent;

    expect(await retention().sweep(pastEverything())).toMatchObject({ trimmed: 1, trimmedTo: second.ledgerId });
    expect((await ledgerEvents())[0]).toEqual(second);
  });

  test('never trims past the last archived entry, even in a process without LEDGER_ARCHIVE_DIR', async () => {
    for (const id of ['a', 'b']) await finishTask(ctx.store, id, 'cancelled', Date.now());
    await projectAll();
    const before = await ledgerEvents();
    const archived = before[1] as LedgerEvent;
    await ctx.redis.set(ctx.keys.archive, archived.ledgerId);

    expect(await retention().sweep(pastEverything())).toMatchObject({ trimmed: 1, trimmedTo: archived.ledgerId });
    expect((await ledgerEvents())[0]).toEqual(archived);
  });

  test('trims nothing when the archive cannot be written', async () => {
    await finishTask(ctx.store, 'a', 'cancelled', Date.now());
    await projectAll();
    const notADirectory = join(tempDir(), 'file');
    writeFileSync(notADirectory, '');
    const before = await ledgerEvents();

    await expect(retention({ archiveDir: notADirectory }).sweep(pastEverything())).rejects.toThrow(/EEXIST|ENOTDIR/);
    expect((await ledgerEvents()).slice(0, before.length)).toEqual(before);
    expect(await ctx.redis.get(ctx.keys.archive)).toBeNull();
  });
});

describe('retention: archive', () => {
  test('archives what is older than the cutoff, then trims to the last archived entry and keeps it', async () => {
    const now = Date.now();
    await finishTask(ctx.store, 'old', 'succeeded', now - 2 * RETENTION);
    await sleepMs(5);
    const cutoff = Date.now();
    await sleepMs(5);
    await finishTask(ctx.store, 'new', 'succeeded', Date.now());
    await projectAll();
    const all = await ledgerEvents();
    const older = all.filter((e) => e.taskId === 'old');
    const dir = tempDir();

    const result = await retention({ archiveDir: dir }).sweep(cutoff + RETENTION);

    expect(result).toMatchObject({ expunged: 1, archived: older.length, trimmedTo: older.at(-1)?.ledgerId });
    expect(await ctx.redis.get(ctx.keys.archive)).toBe(older.at(-1)?.ledgerId);
    const files = readdirSync(dir).map((f) => join(dir, f));
    const archived: LedgerEvent[] = [];
    for await (const e of mergeArchives(files)) archived.push(e);
    expect(archived).toEqual(older);
    expect((await ledgerEvents()).slice(0, all.length - older.length + 1)).toEqual(all.slice(older.length - 1));
  });

  test('the archive files and what stays in Redis hold every event exactly as the ledger had it', async () => {
    const start = Date.now() - 3 * 86_400_000;
    for (let day = 0; day < 3; day++) {
      await finishTask(ctx.store, `t-${day}-a`, 'succeeded', start + day * 86_400_000);
      await finishTask(ctx.store, `t-${day}-b`, 'failed', start + day * 86_400_000 + 1);
    }
    await projectAll();
    const dir = tempDir();
    const sweeper = retention({ archiveDir: dir, batchSize: 4 });

    const tasksEvents = await ledgerEvents();
    await sweeper.sweep(pastEverything());
    const expungedEvents = (await ledgerEvents()).filter((e) => e.type === 'expunged');
    expect(expungedEvents).toHaveLength(6);
    const complete = [...tasksEvents, ...expungedEvents];
    await projectAll();
    await sweeper.sweep(pastEverything());

    expect(readdirSync(dir)).toHaveLength(4); // three days of tasks, and today for the expunged events
    const archived: LedgerEvent[] = [];
    for await (const e of mergeArchives(readdirSync(dir).map((f) => join(dir, f)))) archived.push(e);
    const kept = await ledgerEvents();
    expect(kept).toHaveLength(1);
    expect(archived).toEqual(complete);
    expect(archived.at(-1)).toEqual(kept[0]);
  });
});
