import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runScript, scripts } from '../../../src/adapters/redis/scripts/index.ts';
import { abandon, generationsOf, startRebuild, switchTo } from '../../../src/projections/generations.ts';
import { testStore } from '../../support/store.ts';

/** projection-generation: start a rebuild (or join the one in progress), switch reads to it once it caught up. */
const NAME = 'usage';
let ctx: ReturnType<typeof testStore>;
let hashKey: string;
let lockPrefix: string;

beforeEach(() => {
  ctx = testStore();
  hashKey = ctx.keys.projection(NAME);
  lockPrefix = ctx.keys.projectionLock(NAME, 0).slice(0, -1);
});
afterEach(() => ctx.close());

const start = async (token = '', ttlMs = 60_000) =>
  (await runScript(ctx.redis, scripts.projectionGeneration, [hashKey], ['start', lockPrefix, token, ttlMs])) as [
    number,
    number,
  ];
const switchGen = async (gen: number | string, now = Date.now()) =>
  Number(await runScript(ctx.redis, scripts.projectionGeneration, [hashKey], ['switch', gen, now]));
const hash = () => ctx.redis.hgetall(hashKey);
const lockOf = (gen: number) => ctx.redis.get(ctx.keys.projectionLock(NAME, gen));

describe('projection-generation script: start', () => {
  test('on a projection never seen: generation 1 is active and generation 2 is built; no token, no lock', async () => {
    expect(await start()).toEqual([2, 0]);
    expect(await hash()).toEqual({ active: '1', last: '2', building: '2' });
    expect(await lockOf(2)).toBeNull();
  });

  test('with a token: the new generation’s lock is taken in the same step, for the given time', async () => {
    expect(await start('builder', 5_000)).toEqual([2, 1]);
    expect(await lockOf(2)).toBe('builder');
    const ttl = await ctx.redis.pttl(ctx.keys.projectionLock(NAME, 2));
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  test('while a rebuild is in progress, start returns that generation; its lock stays with its holder', async () => {
    expect(await start('builder')).toEqual([2, 1]);
    expect(await start('second')).toEqual([2, 0]);
    expect(await start()).toEqual([2, 0]);
    expect(await lockOf(2)).toBe('builder');
    expect(await hash()).toEqual({ active: '1', last: '2', building: '2' });
  });

  test('joining a rebuild in progress whose lock is free takes the lock', async () => {
    expect(await start()).toEqual([2, 0]);
    expect(await start('joiner')).toEqual([2, 1]);
    expect(await lockOf(2)).toBe('joiner');
  });

  test('after the projectors created generation 1 (generationsOf), the rebuild is generation 2', async () => {
    expect(await generationsOf(ctx.redis, ctx.keys, NAME)).toEqual({ active: 1, building: null, retired: new Map() });
    expect(await start()).toEqual([2, 0]);
    expect(await generationsOf(ctx.redis, ctx.keys, NAME)).toEqual({ active: 1, building: 2, retired: new Map() });
  });

  test('after a switch, the next rebuild is a new generation, never one used before', async () => {
    await start();
    expect(await switchGen(2)).toBe(1);
    expect(await start()).toEqual([3, 0]);
    expect(await hash()).toEqual({ active: '2', last: '3', building: '3', 'retired:1': expect.any(String) });
  });

  test('startRebuild names the lock the projector checks: keys.projectionLock(name, gen)', async () => {
    expect(await startRebuild(ctx.redis, ctx.keys, NAME, { token: 't', ms: 60_000 })).toEqual({ gen: 2, locked: true });
    expect(await lockOf(2)).toBe('t');
    expect(await startRebuild(ctx.redis, ctx.keys, NAME, { token: 'u', ms: 60_000 })).toEqual({
      gen: 2,
      locked: false,
    });
    expect(await startRebuild(ctx.redis, ctx.keys, NAME, null)).toEqual({ gen: 2, locked: false });
  });
});

describe('projection-generation script: switch', () => {
  test('switching to the generation being built makes it active and returns the one it replaced', async () => {
    await start('builder');
    expect(await switchGen(2, 1234)).toBe(2 - 1);
    // the replaced generation is marked retired, with the time of the switch, for the projectors to drop
    expect(await hash()).toEqual({ active: '2', last: '2', 'retired:1': '1234' });
    expect(await generationsOf(ctx.redis, ctx.keys, NAME)).toEqual({
      active: 2,
      building: null,
      retired: new Map([[1, 1234]]),
    });
  });

  test('only from the building generation: any other one returns 0 and changes nothing', async () => {
    await start();
    const before = await hash();
    for (const gen of [1, 3, 0, '2 ', '02']) expect(await switchGen(gen), `switch to ${gen}`).toBe(0);
    expect(await hash()).toEqual(before);
  });

  test('with no rebuild in progress, switch returns 0 and changes nothing', async () => {
    await generationsOf(ctx.redis, ctx.keys, NAME);
    expect(await switchGen(1)).toBe(0);
    expect(await switchGen(2)).toBe(0);
    expect(await hash()).toEqual({ active: '1', last: '1' });
  });

  test('a second switch to the same generation (two projectors saw it catch up) returns 0', async () => {
    await start();
    expect(await switchTo(ctx.redis, ctx.keys, NAME, 2, 1234)).toBe(1);
    expect(await switchTo(ctx.redis, ctx.keys, NAME, 2, 5678)).toBe(0);
    expect(await hash()).toEqual({ active: '2', last: '2', 'retired:1': '1234' });
  });
});

describe('projection-generation script: abandon', () => {
  test('a rebuild that can never be completed stops being built and is marked retired; only the building one', async () => {
    await start();
    expect(await abandon(ctx.redis, ctx.keys, NAME, 3, 99)).toBe(0);
    expect(await abandon(ctx.redis, ctx.keys, NAME, 2, 99)).toBe(2);
    expect(await hash()).toEqual({ active: '1', last: '2', 'retired:2': '99' });
    expect(await abandon(ctx.redis, ctx.keys, NAME, 2, 100)).toBe(0);
  });
});
