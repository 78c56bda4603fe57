import type { Redis } from 'ioredis';
import type { Tiers } from '../../domain/client/tier.ts';
import type { Keys } from './keys.ts';
import { runScript, scripts } from './scripts/index.ts';
import { guardStorage } from './task-store.ts';

/** The tiers' in-flight limits as the lease script reads them: `free=1,basic=5`. */
export type InFlightLimits = Readonly<{ encoded: string }>;

export const NO_LIMITS: InFlightLimits = { encoded: '' };

export const inFlightLimits = (tiers: Tiers): InFlightLimits => ({
  encoded: [...tiers.values()].map((t) => `${t.name}=${t.maxInFlight}`).join(','),
});

/**
 * Puts parked tasks back on their ready streams for every client below its limit. An ending dispatch puts one
 * back by itself (commit.lua); this catches what that cannot see: a raised tier, a deleted client.
 * Returns how many tasks went back.
 */
export const unparkTasks = async (redis: Redis, keys: Keys, limits: InFlightLimits, max = 1000): Promise<number> =>
  Number(
    await guardStorage('unpark tasks', () =>
      runScript(
        redis,
        scripts.unpark,
        [keys.parkedClients, keys.inFlight],
        [keys.clientPrefix, keys.parkedPrefix, limits.encoded, max],
      ),
    ),
  );

/** One client's dispatches in flight and tasks parked, as the lease script counts them. */
export const inFlightOf = async (
  redis: Redis,
  keys: Keys,
  clientId: string,
): Promise<{ inFlight: number; parked: number }> => {
  const [inFlight, parked] = await guardStorage('read in-flight counts', () =>
    Promise.all([redis.hget(keys.inFlight, clientId), redis.llen(keys.parked(clientId))]),
  );
  return { inFlight: Number(inFlight ?? 0), parked };
};

/** Dispatches in flight and tasks parked, per client, as the lease script counts them. */
export const inFlightByClient = async (
  redis: Redis,
  keys: Keys,
): Promise<Map<string, { inFlight: number; parked: number }>> => {
  const counts = await guardStorage('read in-flight counts', () => redis.hgetall(keys.inFlight));
  const parkedClients = await guardStorage('read parked clients', () => redis.smembers(keys.parkedClients));
  const out = new Map<string, { inFlight: number; parked: number }>();
  for (const [client, n] of Object.entries(counts)) out.set(client, { inFlight: Number(n), parked: 0 });
  for (const client of parkedClients) {
    const parked = await guardStorage('read parked tasks', () => redis.llen(keys.parked(client)));
    out.set(client, { inFlight: out.get(client)?.inFlight ?? 0, parked });
  }
  return out;
};
