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
