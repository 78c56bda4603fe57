import type { Redis } from 'ioredis';
import type { Keys } from '../adapters/redis/keys.ts';
import { runScript, scripts } from '../adapters/redis/scripts/index.ts';

/**
 * A projection lives in generations. Reads use the `active` one; a rebuild builds the next one from the start of
 * the ledger beside it while traffic continues, and reads switch over once it has caught up. Generation 1 is
 * active from the first start.
 */
export type Generations = Readonly<{
  active: number;
  building: number | null;
  /** Generations replaced by a switch (or abandoned), with when: dropped once reads have left them. */
  retired: ReadonlyMap<number, number>;
}>;

export const generationsOf = async (redis: Redis, keys: Keys, name: string): Promise<Generations> => {
  const key = keys.projection(name);
  let fields = await redis.hgetall(key);
  if (fields.active === undefined) {
    await redis.multi().hsetnx(key, 'active', '1').hsetnx(key, 'last', '1').exec();
    fields = await redis.hgetall(key);
  }
  const retired = new Map<number, number>();
  for (const [field, at] of Object.entries(fields)) {
    if (field.startsWith('retired:')) retired.set(Number(field.slice('retired:'.length)), Number(at));
  }
  return {
    active: Number(fields.active),
    building: fields.building === undefined ? null : Number(fields.building),
    retired,
  };
};

/**
 * Starts a rebuild (or joins the one in progress): the generation being built, and whether `token` now holds its
 * lock (taken in the same step, so no other projector starts building it first); with no lock, the running
 * projectors pick it up.
 */
export const startRebuild = async (
  redis: Redis,
  keys: Keys,
  name: string,
  lock: { token: string; ms: number } | null,
): Promise<{ gen: number; locked: boolean }> => {
  const lockPrefix = keys.projectionLock(name, 0).slice(0, -1);
  const [gen, locked] = (await runScript(
    redis,
    scripts.projectionGeneration,
    [keys.projection(name)],
    ['start', lockPrefix, lock?.token ?? '', lock?.ms ?? 0],
  )) as [number, number];
  return { gen: Number(gen), locked: Number(locked) === 1 };
};

/**
 * Makes `gen` the active generation if it is the one being built; returns the generation it replaced (now
 * marked retired), or 0.
 */
export const switchTo = async (redis: Redis, keys: Keys, name: string, gen: number, now = Date.now()) =>
  Number(await runScript(redis, scripts.projectionGeneration, [keys.projection(name)], ['switch', gen, now]));

/** Stops building `gen` (it can never be completed) and marks it retired; returns gen, or 0 if it was not built. */
export const abandon = async (redis: Redis, keys: Keys, name: string, gen: number, now = Date.now()) =>
  Number(await runScript(redis, scripts.projectionGeneration, [keys.projection(name)], ['abandon', gen, now]));

export const genMetaKey = (keys: Keys, name: string, gen: number) => `${keys.projectionGen(name, gen)}meta`;

/** Removes a generation: its lock and every key under its prefix. */
export const dropGeneration = async (redis: Redis, keys: Keys, name: string, gen: number): Promise<number> => {
  // the lock goes first: a batch its holder planned before the switch must be refused, not land in a half-dropped
  // generation and bring back keys that nothing would remove (test/e2e/projection-drop-race.test.ts)
  await redis.del(keys.projectionLock(name, gen));
  let dropped = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.projectionGen(name, gen)}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) dropped += await redis.unlink(...found);
  } while (cursor !== '0');
  await redis.hdel(keys.projection(name), `retired:${gen}`, `seeded:${gen}`);
  return dropped;
};

export type ProjectionLag = Readonly<{
  name: string;
  generation: number;
  /** Ledger events this generation has not applied yet. */
  lag: number;
  /** Events applied since the generation started. */
  applied: number;
  checkpoint: string | null;
  rebuilding: Readonly<{ generation: number; lag: number; applied: number }> | null;
}>;

const streamInfo = async (redis: Redis, keys: Keys): Promise<{ length: number; added: number }> => {
  try {
    const stream = (await redis.xinfo('STREAM', keys.events)) as unknown[];
    const field = (name: string) => Number(stream[stream.indexOf(name) + 1]);
    return { length: field('length'), added: field('entries-added') };
  } catch (err) {
    if (String(err).includes('no such key')) return { length: 0, added: 0 };
    throw err;
  }
};

/** Counting entries one by one is only for a generation an archive replay left without `seq`; past this, XLEN. */
const MAX_COUNTED = 100_000;

const entriesAfter = async (redis: Redis, keys: Keys, checkpoint: string, length: number): Promise<number> => {
  let counted = 0;
  let from = `(${checkpoint}`;
  while (counted < MAX_COUNTED) {
    const page = (await redis.xrange(keys.events, from, '+', 'COUNT', 10_000)) as [string, unknown][];
    counted += page.length;
    if (page.length < 10_000) return counted;
    from = `(${(page.at(-1) as [string, unknown])[0]}`;
  }
  return length;
};

/** How far each projection is behind the ledger (and its rebuild, if one runs). */
export const projectionLags = async (redis: Redis, keys: Keys, names: readonly string[]): Promise<ProjectionLag[]> => {
  const { length, added } = await streamInfo(redis, keys);
  const lagOf = async (name: string, gen: number) => {
    const [checkpoint, applied, seq] = await redis.hmget(genMetaKey(keys, name, gen), 'checkpoint', 'applied', 'seq');
    // seq: how many entries the ledger had ever had when it reached the checkpoint (projection-apply.lua)
    let lag = length;
    if (seq !== null) lag = Math.max(0, added - Number(seq));
    else if (checkpoint) lag = await entriesAfter(redis, keys, checkpoint, length);
    return { lag, applied: Number(applied ?? 0), checkpoint: checkpoint ?? null };
  };
  const out: ProjectionLag[] = [];
  for (const name of names) {
    const gens = await generationsOf(redis, keys, name);
    const active = await lagOf(name, gens.active);
    const building = gens.building === null ? null : await lagOf(name, gens.building);
    out.push({
      name,
      generation: gens.active,
      lag: active.lag,
      applied: active.applied,
      checkpoint: active.checkpoint,
      rebuilding:
        gens.building === null || building === null
          ? null
          : { generation: gens.building, lag: building.lag, applied: building.applied },
    });
  }
  return out;
};
