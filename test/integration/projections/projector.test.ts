import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Recorded, TaskEventType } from '../../../src/domain/task/events.ts';
import { projectionLags } from '../../../src/projections/generations.ts';
import { PROJECTION_NAMES, PROJECTIONS } from '../../../src/projections/index.ts';
import { percentile } from '../../../src/projections/latency.ts';
import type { LedgerEvent } from '../../../src/projections/projection.ts';
import { Projector } from '../../../src/projections/projector.ts';
import { dailyUsage, listTaskIds, STATUSES, statusCounts } from '../../../src/projections/read-models.ts';
import { TASKS_PROJECTION } from '../../../src/projections/task-index.ts';
import { enqueueDecided } from '../../support/commits.ts';
import {
  expectedReadModels,
  foldHistory,
  metaOf,
  readGeneration,
  readKeys,
  readLedger,
} from '../../support/read-model-oracle.ts';
import { silentLog, testStore } from '../../support/store.ts';
import { Workload } from '../../support/workload.ts';

/**
 * The projector against a real redis-server, driven in-process step by step. Tasks go through the real domain and
 * commit script (test/support/workload.ts); the read models are compared, key by key, with what each task's own
 * history and the ledger say they must hold (test/support/read-model-oracle.ts).
 */
let ctx: ReturnType<typeof testStore>;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['critical', 'default', 'low']);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await ctx.close();
});

const DAY = 86_400_000;

const projector = (o: { batchSize?: number; lockMs?: number } = {}) => {
  const p = new Projector({
    redis: ctx.redis,
    blocking: ctx.redis,
    keys: ctx.keys,
    projections: PROJECTIONS,
    log: silentLog,
    batchSize: o.batchSize ?? 50,
    lockMs: o.lockMs ?? 60_000,
  });
  cleanups.push(() => p.stop());
  return p;
};

const lastLedgerId = async () => {
  const [last] = (await ctx.redis.xrevrange(ctx.keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last?.[0] ?? '';
};

/** Both projections have applied the whole ledger. */
const caughtUp = async () => {
  const last = await lastLedgerId();
  for (const name of PROJECTION_NAMES) {
    if ((await metaOf(ctx.redis, ctx.keys, name)).checkpoint !== last) return false;
  }
  return true;
};

const lags = async () =>
  Object.fromEntries((await projectionLags(ctx.redis, ctx.keys, PROJECTION_NAMES)).map((l) => [l.name, l.lag]));

const catchUp = async (p: Projector, maxSteps = 2_000) => {
  for (let i = 0; i < maxSteps; i++) {
    await p.step();
    if (await caughtUp()) return;
  }
  const metas = await Promise.all(PROJECTION_NAMES.map((n) => metaOf(ctx.redis, ctx.keys, n)));
  throw new Error(`not caught up after ${maxSteps} steps: ledger at ${await lastLedgerId()}, ${JSON.stringify(metas)}`);
};

/** Both projections' keys, meta and generations included, locks left out: what a batch can change. */
const everything = async () =>
  Object.fromEntries(
    Object.entries(await readKeys(ctx.redis, ctx.keys.projection(''))).filter(([name]) => !name.includes(':lock:')),
  );

/**
 * Checks both read models key by key against the oracle for the events `applied` (the whole ledger unless given),
 * and the read-model queries (counts by status per queue and client, per-day totals and latency percentiles).
 */
const expectReadModels = async (
  histories: ReadonlyMap<string, readonly Recorded[]>,
  o: { applied?: LedgerEvent[] } = {},
) => {
  const ledger = o.applied ?? (await readLedger(ctx.redis, ctx.keys));
  const expected = expectedReadModels(ledger, histories);
  expect((await readGeneration(ctx.redis, ctx.keys, 'tasks')).keys).toEqual(expected.tasks);
  expect((await readGeneration(ctx.redis, ctx.keys, 'usage')).keys).toEqual(expected.usage);

  for (const [queue, counts] of Object.entries(expected.byQueue)) {
    expect(await statusCounts(ctx.redis, ctx.keys, { queue }), `queue ${queue}`).toEqual(counts);
  }
  for (const [clientId, counts] of Object.entries(expected.byClient)) {
    expect(await statusCounts(ctx.redis, ctx.keys, { clientId }), `client ${clientId}`).toEqual(counts);
  }
  const times = ledger.map((e) => e.at);
  const now = Math.max(...times);
  const days = Math.ceil((now - Math.min(...times)) / DAY) + 2;
  const check = async (
    of: { queue: string } | { clientId: string },
    perDay: Record<string, Record<string, number>>,
  ) => {
    for (const d of await dailyUsage(ctx.redis, ctx.keys, of, now, days)) {
      const fields = perDay[d.day] ?? {};
      const histogram = new Map(
        Object.entries(fields)
          .filter(([f]) => f.startsWith('l'))
          .map(([f, n]) => [Number(f.slice(1)), n]),
      );
      expect(d, `${JSON.stringify(of)} on ${d.day}`).toEqual({
        day: d.day,
        enqueued: fields.enqueued ?? 0,
        attempts: fields.attempts ?? 0,
        succeeded: fields.succeeded ?? 0,
        failed: fields.failed ?? 0,
        deferred: fields.deferred ?? 0,
        latency_p50_ms: percentile(histogram, 0.5),
        latency_p95_ms: percentile(histogram, 0.95),
      });
    }
  };
  for (const [queue, perDay] of Object.entries(expected.queueDays)) await check({ queue }, perDay);
  for (const [clientId, perDay] of Object.entries(expected.clientDays)) await check({ clientId }, perDay);
  return { expected, ledger };
};

const typesOf = (ledger: readonly LedgerEvent[]) => new Set<TaskEventType>(ledger.map((e) => e.type));

describe('projector: the read models equal the fold of every task’s history', () => {
  test.each([7, 500])(
    'built batch by batch (%i events a batch) while tasks move through every status',
    async (batchSize) => {
      const w = new Workload(ctx.store, { seed: 1_000 + batchSize, expungeShare: 0.3 });
      const p = projector({ batchSize });
      await w.enqueue(150);
      await p.step();
      for (let round = 0; round < 8; round++) {
        await w.advance(90);
        if (round === 3) await w.enqueue(150);
        for (let i = 0; i < 3; i++) await p.step(); // projected part of the way, often mid-task
      }
      await catchUp(p);

      const mid = await expectReadModels(w.histories);
      // the workload left tasks in every status, on several days
      const totals = Object.values(mid.expected.byQueue).reduce(
        (sum, c) => {
          for (const s of STATUSES) sum[s] = (sum[s] ?? 0) + c[s];
          return sum;
        },
        {} as Record<string, number>,
      );
      for (const s of STATUSES) expect(totals[s], `tasks ${s}`).toBeGreaterThan(0);
      expect(Object.keys(mid.expected.usage).filter((k) => k.startsWith('d:q:default:')).length).toBeGreaterThan(1);
      const last = await lastLedgerId();
      for (const name of PROJECTION_NAMES) {
        expect(await metaOf(ctx.redis, ctx.keys, name)).toEqual({
          checkpoint: last,
          applied: String(mid.ledger.length),
          seq: String(mid.ledger.length), // caught up: the ledger's entries-added (none deleted here)
        });
      }

      await w.settle();
      await catchUp(p);
      const end = await expectReadModels(w.histories);
      expect([...typesOf(end.ledger)].sort()).toEqual(
        [
          'attempted',
          'cancelled',
          'deferred',
          'enqueued',
          'expunged',
          'failed',
          'lease_expired',
          'leased',
          'released',
          'retry_scheduled',
          'scheduled',
          'succeeded',
        ].sort(),
      );
      expect(end.expected.tasks.rec).toBeUndefined(); // every task finished: no live record is left
      for (const name of PROJECTION_NAMES) {
        expect(await metaOf(ctx.redis, ctx.keys, name)).toEqual({
          checkpoint: await lastLedgerId(),
          applied: String(end.ledger.length),
          seq: String(end.ledger.length),
        });
      }
    },
  );
});

describe('projector: the largest batch PROJECTION_BATCH_SIZE allows', () => {
  test('5,000 events in one batch are applied in one script call', async () => {
    const w = new Workload(ctx.store, { seed: 5_000 });
    await w.enqueue(1_500);
    await w.advance(1_500);
    await w.advance(1_500);
    const p = projector({ batchSize: 5_000 });
    expect(await p.step()).toBeGreaterThan(4_000);
    await catchUp(p);
    await expectReadModels(w.histories);
  }, 60_000);
});

describe('projector: a batch of 5,000 new tasks in one queue, for one client', () => {
  test('is applied in one step: no merged command is too large for the apply script', async () => {
    // merged per key, each projection's record of every task and the queue's and the client's pending lists would
    // each be one command of 10,000 values, past what the script's Lua `unpack` takes: the batch would fail on
    // every retry
    const histories = new Map<string, Recorded[]>();
    for (let chunk = 0; chunk < 10; chunk++) {
      const tasks = Array.from({ length: 500 }, (_, i) => enqueueDecided(`task-${chunk}-${i}`));
      expect(await ctx.store.commit(tasks.map((t) => t.commit))).toEqual(tasks.map(() => ({ kind: 'ok' })));
      for (const t of tasks) histories.set(t.commit.taskId, [...t.events]);
    }
    const p = projector({ batchSize: 5_000 });
    expect(await p.step()).toBe(2 * 5_000); // the whole ledger, one script call for each projection
    expect(await caughtUp()).toBe(true);
    await expectReadModels(histories);
  }, 60_000);
});

describe('projector: idempotency', () => {
  const builtUp = async () => {
    const w = new Workload(ctx.store, { seed: 42, expungeShare: 0.2 });
    await w.enqueue(120);
    for (let i = 0; i < 4; i++) await w.advance();
    const p = projector({ batchSize: 40 });
    await catchUp(p);
    await expectReadModels(w.histories);
    const before = await everything();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['tasks:g1:meta', 'usage:g1:meta', 'tasks:g1:rec']));
    return { w, p, before };
  };

  test('projections at different checkpoints each read from their own, and the ledger gets no consumer group', async () => {
    const w = new Workload(ctx.store, { seed: 43, expungeShare: 0.2 });
    await w.enqueue(120);
    for (let i = 0; i < 4; i++) await w.advance();
    const tasksOnly = new Projector({
      redis: ctx.redis,
      blocking: ctx.redis,
      keys: ctx.keys,
      projections: PROJECTIONS.filter((p) => p.name === TASKS_PROJECTION),
      log: silentLog,
      batchSize: 40,
      lockMs: 60_000,
    });
    for (let i = 0; i < 5; i++) await tasksOnly.step();
    await tasksOnly.stop();
    const ahead = (await metaOf(ctx.redis, ctx.keys, TASKS_PROJECTION)).checkpoint;
    expect(ahead).not.toBe((await metaOf(ctx.redis, ctx.keys, 'usage')).checkpoint); // the case under test

    await catchUp(projector({ batchSize: 40 }));

    await expectReadModels(w.histories);
    expect(await ctx.redis.xinfo('GROUPS', ctx.keys.events)).toEqual([]);
  });

  test('a consumer group an earlier build made for a generation is removed by the holder of its lock', async () => {
    const w = new Workload(ctx.store, { seed: 44 });
    await w.enqueue(30);
    for (const name of PROJECTION_NAMES) {
      // as builds that read through groups left it: created at the start, with entries pending in it
      await ctx.redis.xgroup('CREATE', ctx.keys.events, `proj:${name}:g1`, '0');
      await ctx.redis.xreadgroup('GROUP', `proj:${name}:g1`, 'projector', 'COUNT', 10, 'STREAMS', ctx.keys.events, '>');
    }
    expect(((await ctx.redis.xinfo('GROUPS', ctx.keys.events)) as unknown[]).length).toBe(2);

    await catchUp(projector());

    expect(await ctx.redis.xinfo('GROUPS', ctx.keys.events)).toEqual([]);
    await expectReadModels(w.histories);
  });

  test('the lag is the count of ledger entries after the checkpoint, also across a trim and for a new generation', async () => {
    const { w, p } = await builtUp();
    expect(await lags()).toEqual({ tasks: 0, usage: 0 });
    const before = await ctx.redis.xlen(ctx.keys.events);
    await w.advance();
    await w.enqueue(10);
    const added = (await ctx.redis.xlen(ctx.keys.events)) - before;
    expect(added).toBeGreaterThan(40);
    expect(await lags()).toEqual({ tasks: added, usage: added });

    await p.step(); // one batch of 40 each, not to the ledger's end: the lag is counted on
    expect(await lags()).toEqual({ tasks: added - 40, usage: added - 40 });

    // retention trims only entries both have applied; the lag is unchanged by it
    const applied = (await metaOf(ctx.redis, ctx.keys, 'usage')).checkpoint as string;
    await ctx.redis.xtrim(ctx.keys.events, 'MINID', applied);
    expect(await lags()).toEqual({ tasks: added - 40, usage: added - 40 });

    await catchUp(p);
    expect(await lags()).toEqual({ tasks: 0, usage: 0 });
    await w.enqueue(50);

    // a rebuild starts at the trimmed ledger's oldest entry: its lag is every entry left, counted down per batch
    const { gen } = await p.beginRebuild('usage', { focus: true });
    expect(gen).toBe(2);
    const left = await ctx.redis.xlen(ctx.keys.events);
    const rebuilding = async () =>
      (await projectionLags(ctx.redis, ctx.keys, ['usage']))[0]?.rebuilding?.lag ?? Number.NaN;
    expect(await rebuilding()).toBe(left);
    await p.step();
    expect(await rebuilding()).toBe(left - 40);
  });

  test('replaying events already applied (an overlapping archive) counts nothing twice', async () => {
    const { w, p, before } = await builtUp();
    const ledger = await readLedger(ctx.redis, ctx.keys);
    // (replay's return value is not checked: it counts 1 for a batch that only skips, see Projector#apply)
    for (const name of PROJECTION_NAMES) await p.replay(name, 1, ledger);
    expect(await everything()).toEqual(before);
    await expectReadModels(w.histories);
  });
});

describe('projector: one writer per generation', () => {
  test('a projector whose lock expired cannot write: the one that took over applies everything exactly once', async () => {
    const w = new Workload(ctx.store, { seed: 7 });
    await w.enqueue(60);
    await w.advance();
    const first = projector({ lockMs: 300, batchSize: 30 });
    const second = projector({ lockMs: 300, batchSize: 30 });
    await catchUp(first);
    expect(await second.step()).toBe(0); // the lock is held

    await new Promise((r) => setTimeout(r, 400)); // first stops renewing: its lock expires
    await w.advance();
    await catchUp(second);
    const before = await everything();
    await w.advance();
    for (let i = 0; i < 5; i++) expect(await first.step()).toBe(0);
    expect(await everything()).toEqual(before);

    await catchUp(second);
    const { ledger } = await expectReadModels(w.histories);
    for (const name of PROJECTION_NAMES) {
      expect((await metaOf(ctx.redis, ctx.keys, name)).applied).toBe(String(ledger.length));
    }
  });

  /**
   * The holder loses its lock (paused past its lifetime, as in a long GC pause) while it still believes it holds it:
   * it reads a batch, plans it, and the apply script refuses it. Its batch stays pending in the group.
   */
  const staleHolderReadsABatch = async () => {
    const w = new Workload(ctx.store, { seed: 8 });
    await w.enqueue(80);
    await w.advance();
    const stale = projector({ lockMs: 60_000, batchSize: 500 });
    await catchUp(stale);
    for (const name of PROJECTION_NAMES) await ctx.redis.del(ctx.keys.projectionLock(name, 1));
    const next = projector({ lockMs: 60_000, batchSize: 500 });
    await next.step(); // takes both locks over; nothing new to apply yet
    await w.advance();
    const before = await everything();

    expect(await stale.step()).toBe(0);

    expect(await everything()).toEqual(before); // refused: not a single write
    return { w, next, before };
  };

  test('a holder that lost its lock without knowing writes nothing; the new holder applies its batch exactly once', async () => {
    const { w, next } = await staleHolderReadsABatch();
    await w.advance(1); // the next ledger event shows the new holder the gap left by the stale read
    await catchUp(next);
    const { ledger } = await expectReadModels(w.histories);
    for (const name of PROJECTION_NAMES) {
      expect((await metaOf(ctx.redis, ctx.keys, name)).applied).toBe(String(ledger.length));
    }
  });

  test('the batch a stale holder read is applied by the new holder without waiting for another event', async () => {
    // the new holder reads from the checkpoint the stale holder could not move: its batch is read again at once
    const { w, next } = await staleHolderReadsABatch();
    await catchUp(next, 50);
    await expectReadModels(w.histories);
  });
});

describe('projector: a ledger trimmed by retention', () => {
  test('a task whose early events were trimmed is placed where its stored history leaves it', async () => {
    const w = new Workload(ctx.store, { seed: 9 });
    await w.enqueue(150);
    await w.advance();
    await w.advance();
    const all = await readLedger(ctx.redis, ctx.keys);
    const cut = all[Math.floor(all.length / 2)]?.ledgerId as string;
    await ctx.redis.xtrim(ctx.keys.events, 'MINID', cut);
    await w.advance();
    await w.enqueue(30);
    await w.advance();

    await catchUp(projector({ batchSize: 23 }));

    const { ledger } = await expectReadModels(w.histories);
    const firstSeen = new Map<string, LedgerEvent>();
    for (const e of ledger) if (!firstSeen.has(e.taskId)) firstSeen.set(e.taskId, e);
    const orphans = [...firstSeen.values()].filter((e) => e.type !== 'enqueued');
    expect(orphans.length).toBeGreaterThan(20); // the case under test did happen, many times
    expect(firstSeen.size).toBeLessThan(w.histories.size); // and some tasks left the ledger entirely
    expect((await metaOf(ctx.redis, ctx.keys, TASKS_PROJECTION)).applied).toBe(String(ledger.length));
  });

  test('entries trimmed while the projector was behind, before it applied them, are skipped', async () => {
    const w = new Workload(ctx.store, { seed: 10 });
    await w.enqueue(100);
    await w.advance();
    const first = projector({ batchSize: 40 });
    await catchUp(first);
    const appliedBefore = await readLedger(ctx.redis, ctx.keys);
    await w.advance();
    await w.advance();
    // the holder stops behind; the ledger is trimmed past entries it never applied (by hand: retention would not)
    await first.stop();
    const unapplied = (await readLedger(ctx.redis, ctx.keys)).slice(appliedBefore.length);
    const cut = unapplied[60]?.ledgerId as string;
    await ctx.redis.xtrim(ctx.keys.events, 'MINID', cut);
    await w.advance();

    await catchUp(projector({ batchSize: 40 }));

    // applied: everything before the trim that the first holder applied, and whatever the ledger still holds
    const applied = [...appliedBefore, ...(await readLedger(ctx.redis, ctx.keys))];
    // a task whose last events were trimmed before they were applied stays where its last applied event left it
    await expectReadModels(w.histories, { applied });
    for (const name of PROJECTION_NAMES) {
      expect((await metaOf(ctx.redis, ctx.keys, name)).applied).toBe(String(applied.length));
    }
  });
  test('usage keeps a record of a live task found through its stored history', async () => {
    // without one, the task's history would be loaded again in every later batch, and the generation's `rec` would
    // differ from one built from the untrimmed ledger
    const w = new Workload(ctx.store, { seed: 14 });
    const [id] = await w.enqueue(1);
    const [first] = await readLedger(ctx.redis, ctx.keys);
    await ctx.redis.xdel(ctx.keys.events, first?.ledgerId as string);
    await w.advance(); // leased, or released: live either way
    await catchUp(projector());
    const { task } = foldHistory(id as string, w.histories.get(id as string) ?? []);
    expect(['pending', 'active']).toContain(task.status);
    expect((await readGeneration(ctx.redis, ctx.keys, 'usage')).keys.rec).toEqual({
      [id as string]: JSON.stringify([task.queue, task.clientId]),
    });
  });
});

describe('listTaskIds', () => {
  test('paging returns every task exactly once, newest first, while tasks are added and move between pages', async () => {
    const w = new Workload(ctx.store, { seed: 12 });
    const first = await w.enqueue(137);
    await w.advance(80);
    const p = projector({ batchSize: 100 });
    await catchUp(p);
    const newestFirst = (ids: readonly string[]) => [...ids].sort().reverse();
    const queueOf = (id: string) => {
      const e = w.histories.get(id)?.[0];
      return e?.type === 'enqueued' ? e.data : { queue: '', clientId: '' };
    };

    const pageThrough = async (q: { queue?: string; clientId?: string }, limit: number) => {
      const existing = [...w.histories.keys()].filter((id) => {
        const { queue, clientId } = queueOf(id);
        return (q.queue ?? queue) === queue && (q.clientId ?? clientId) === clientId;
      });
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const r = await listTaskIds(ctx.redis, ctx.keys, { ...q, limit, ...(cursor ? { cursor } : {}) });
        expect(r.ids.length).toBeLessThanOrEqual(limit);
        if (r.nextCursor !== null) expect(r.ids.length).toBe(limit);
        pages.push(r.ids);
        cursor = r.nextCursor ?? undefined;
        // between two pages newer tasks arrive and listed ones change status (so change lists)
        await w.enqueue(5);
        await w.advance(25);
        await catchUp(p);
      } while (cursor !== undefined);
      return { pages, existing: newestFirst(existing) };
    };

    const all = await pageThrough({}, 20);
    expect(all.existing).toEqual(newestFirst(first));
    expect(all.pages[0]).toEqual(all.existing.slice(0, 20));
    expect(all.pages.flat()).toEqual(all.existing);
    expect(all.pages.length).toBe(Math.ceil(first.length / 20));

    const critical = await pageThrough({ queue: 'critical' }, 9);
    expect(critical.existing.length).toBeGreaterThan(9 * 3);
    expect(critical.pages.flat()).toEqual(critical.existing);

    const clientB = await pageThrough({ clientId: 'client-b' }, 7);
    expect(clientB.existing.length).toBeGreaterThan(7 * 3);
    expect(clientB.pages.flat()).toEqual(clientB.existing);
  });

  test('listing one status pages through that status only, in id order, without repeats', async () => {
    const w = new Workload(ctx.store, { seed: 13 });
    await w.enqueue(90);
    await w.advance();
    await w.advance();
    await catchUp(projector());
    const expected = expectedReadModels(await readLedger(ctx.redis, ctx.keys), w.histories);
    for (const status of STATUSES) {
      const want = Object.keys(expected.tasks[`q:default:${status}`] ?? {})
        .sort()
        .reverse();
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const r = await listTaskIds(ctx.redis, ctx.keys, {
          queue: 'default',
          status,
          limit: 4,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...r.ids);
        cursor = r.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(seen, status).toEqual(want);
    }
  });
});
