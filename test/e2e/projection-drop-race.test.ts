import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { generationsOf } from '../../src/projections/generations.ts';
import type { Projection } from '../../src/projections/projection.ts';
import { Projector } from '../../src/projections/projector.ts';
import { usage } from '../../src/projections/usage.ts';
import { snapshotPrefix } from '../support/projection-state.ts';
import { redisUrl, silentLog, testStore } from '../support/store.ts';

/**
 * Two projector processes: A applies the active generation of `usage`, B (the rebuild CLI, say) builds the next
 * one, switches reads over and drops the old one. A batch that A read and planned before the switch can land at any
 * moment of the drop; wherever it lands, it must write nothing into the dropped generation, or its keys come back
 * after the drop and nothing will ever remove them (nor read them).
 *
 * The batch is made to land at the last moment of the drop: right before B deletes the old generation's lock (if B
 * does that at all). It is A's first batch, so the checkpoint it was planned on is "none", which the drop (it
 * unlinks the meta hash) leaves unchanged: only the lock can refuse it.
 */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('a batch of the replaced generation that lands while it is being dropped writes nothing', async () => {
  const ctx = testStore();
  cleanups.push(ctx.close);
  const { redis, keys, store } = ctx;
  const app = await buildApp({ store, queueNames: ['critical', 'default', 'low'], log: silentLog, authMode: 'open' });
  cleanups.push(() => app.close());
  for (let i = 0; i < 30; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/enqueue',
      payload: { client_id: `client-${i % 3}`, queue: 'default', task: { url: 'http://127.0.0.1:9/x' } },
    });
    expect(res.statusCode).toBe(200);
  }
  const connect = () => {
    const c = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    cleanups.push(() => c.quit());
    return c;
  };

  // A reads its first batch of generation 1 and stops in the middle of planning it
  let openGate = () => {};
  const gate = new Promise<void>((r) => {
    openGate = r;
  });
  let planning = () => {};
  const planned = new Promise<void>((r) => {
    planning = r;
  });
  const gated: Projection = {
    name: usage.name,
    plan: async (events, planCtx) => {
      planning();
      await gate;
      return usage.plan(events, planCtx);
    },
  };
  const a = new Projector({ redis: connect(), blocking: connect(), keys, projections: [gated], log: silentLog });
  cleanups.push(() => a.stop());
  const aStep = a.step();
  await planned;

  // B rebuilds, switches and drops generation 1; A's batch lands right before B deletes generation 1's lock
  const redisB = connect();
  const oldLock = keys.projectionLock('usage', 1);
  let landed = false;
  const land = async () => {
    if (landed) return;
    landed = true;
    openGate();
    await aStep;
  };
  const del = redisB.del.bind(redisB) as (...k: string[]) => Promise<number>;
  (redisB as unknown as { del: (...k: string[]) => Promise<number> }).del = async (...k: string[]) => {
    if (k.includes(oldLock)) await land();
    return del(...k);
  };
  const b = new Projector({
    redis: redisB,
    blocking: connect(),
    keys,
    projections: [usage],
    log: silentLog,
    retiredGraceMs: 0,
  });
  cleanups.push(() => b.stop());
  expect((await b.beginRebuild('usage')).gen).toBe(2);
  for (let i = 0; i < 20 && (await generationsOf(redis, keys, 'usage')).active !== 2; i++) await b.step();
  expect((await generationsOf(redis, keys, 'usage')).active).toBe(2);
  await b.step(); // the replaced generation is dropped by the step after the switch (no grace here)
  await land(); // B never deleted the lock itself: A's batch lands after the drop

  expect(await snapshotPrefix(redis, keys.projectionGen('usage', 1))).toEqual({});
  const groups = (await redis.xinfo('GROUPS', keys.events)) as unknown[][];
  expect(groups).toEqual([]); // projectors read the ledger from their checkpoints, through no group
  // the generation that serves reads counted every task
  const day = new Date().toISOString().slice(0, 10);
  expect(await redis.hget(`${keys.projectionGen('usage', 2)}d:q:default:${day}`, 'enqueued')).toBe('30');
});
