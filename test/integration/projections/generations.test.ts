import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { generationsOf, genMetaKey, switchTo } from '../../../src/projections/generations.ts';
import { PROJECTIONS } from '../../../src/projections/index.ts';
import { Projector } from '../../../src/projections/projector.ts';
import { redisUrl, silentLog, testStore } from '../../support/store.ts';
import { Workload } from '../../support/workload.ts';

/** Generations that stop serving reads are removed by whichever projector comes next, whatever interrupted them. */
let ctx: ReturnType<typeof testStore>;
const extra: Redis[] = [];
beforeEach(() => {
  ctx = testStore();
});
afterEach(async () => {
  await Promise.all(extra.splice(0).map((c) => c.quit()));
  await ctx.close();
});

const projector = (retiredGraceMs = 0) => {
  const blocking = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  extra.push(blocking);
  return new Projector({
    redis: ctx.redis,
    blocking,
    keys: ctx.keys,
    projections: PROJECTIONS,
    log: silentLog,
    retiredGraceMs,
    idleWaitMs: 50,
  });
};
const keysOf = async (name: string, gen: number) => ctx.redis.keys(`${ctx.keys.projectionGen(name, gen)}*`);
const groups = async () => ((await ctx.redis.xinfo('GROUPS', ctx.keys.events)) as unknown[][]).map((g) => String(g[1]));
const catchUp = async (p: Projector) => {
  for (let i = 0; i < 200 && (await p.step()) > 0; i++);
};

test('a switch whose process died before dropping the old generation: the next projector drops it', async () => {
  await new Workload(ctx.store, { seed: 3 }).enqueue(40);
  const first = projector();
  await catchUp(first);
  expect((await keysOf('tasks', 1)).length).toBeGreaterThan(0);
  const { gen } = await first.beginRebuild('tasks', { focus: true });
  // the switch only (a crash before the drop): generation 1 is retired but still holds its keys
  expect(await switchTo(ctx.redis, ctx.keys, 'tasks', gen)).toBe(1);
  expect((await keysOf('tasks', 1)).length).toBeGreaterThan(0);

  const next = projector(60_000);
  await next.step();
  expect((await keysOf('tasks', 1)).length).toBeGreaterThan(0); // kept while reads may still be on it
  await projector(0).step();
  expect(await keysOf('tasks', 1)).toEqual([]);
  expect(await groups()).toEqual([]); // projectors read the ledger from their checkpoints, through no group
  expect((await generationsOf(ctx.redis, ctx.keys, 'tasks')).retired).toEqual(new Map());
  await first.stop();
});

test('a rebuild whose next events were trimmed (a replay that stopped half-way) is abandoned, not completed', async () => {
  const w = new Workload(ctx.store, { seed: 4 });
  await w.enqueue(30);
  await w.advance();
  const entries = (await ctx.redis.xrange(ctx.keys.events, '-', '+')) as [string, string[]][];
  const replayedUpTo = entries[5]?.[0] as string;
  // a replay applied the archive up to entry 5, then stopped; retention has since trimmed past it
  const starter = projector();
  const { gen } = await starter.beginRebuild('usage');
  await ctx.redis.hset(genMetaKey(ctx.keys, 'usage', gen), 'checkpoint', replayedUpTo);
  await ctx.redis.xtrim(ctx.keys.events, 'MINID', entries[20]?.[0] as string);

  await starter.step();
  const gens = await generationsOf(ctx.redis, ctx.keys, 'usage');
  expect(gens.active).toBe(1);
  expect(gens.building).toBeNull();
  expect([...gens.retired.keys()]).toEqual([gen]);
  await projector(0).step();
  expect(await keysOf('usage', gen)).toEqual([]);
  await starter.stop();
});

test('a rebuild from a trimmed ledger still places the tasks whose every event was trimmed', async () => {
  const w = new Workload(ctx.store, { seed: 5 });
  await w.enqueue(60);
  await w.advance(); // one step each: most are still unfinished
  await w.advance(10);
  const incremental = projector();
  await catchUp(incremental);
  // retention trims every event so far (a delay or a pause longer than the retention); then more traffic
  const [newest] = (await ctx.redis.xrevrange(ctx.keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][];
  await ctx.redis.xtrim(ctx.keys.events, 'MINID', `${Number(newest?.[0].split('-')[0]) + 1}-0`);
  await w.enqueue(20);
  await catchUp(incremental);
  const before = await listed('tasks', 1);
  expect(Object.values(before).reduce((n, members) => n + Object.keys(members).length, 0)).toBeGreaterThan(60);

  const { gen } = await incremental.beginRebuild('tasks', { focus: true });
  for (let i = 0; i < 50 && (await generationsOf(ctx.redis, ctx.keys, 'tasks')).active !== gen; i++) {
    await incremental.step();
  }
  expect((await generationsOf(ctx.redis, ctx.keys, 'tasks')).active).toBe(gen);
  expect(await listed('tasks', gen)).toEqual(before);
  await incremental.stop();
});

/** Every list of a generation: key suffix → member → score. */
const listed = async (name: string, gen: number) => {
  const prefix = ctx.keys.projectionGen(name, gen);
  const out: Record<string, Record<string, string>> = {};
  for (const key of (await ctx.redis.keys(`${prefix}*`)).sort()) {
    if ((await ctx.redis.type(key)) !== 'zset') continue;
    const flat = await ctx.redis.zrange(key, '0', '-1', 'WITHSCORES');
    const members: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) members[flat[i] as string] = flat[i + 1] as string;
    out[key.slice(prefix.length)] = members;
  }
  return out;
};
