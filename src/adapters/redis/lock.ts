import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { runScript, scripts } from './scripts/index.ts';

/** A lock in Redis held under a random token: only the holder can renew or release it (lock.lua). */
export type Lock = Readonly<{
  key: string;
  token: string;
  /** Extends the lock by its time to live; false when it was lost (expired, or taken by another process). */
  renew: () => Promise<boolean>;
  /** Lets go of the lock if still held; never throws. */
  release: () => Promise<void>;
}>;

export const newLockToken = () => randomBytes(8).toString('hex');

/** A lock already taken under `token` (by SET NX or by a script). */
export const heldLock = (redis: Redis, key: string, token: string, ttlMs: number): Lock => ({
  key,
  token,
  renew: async () => Number(await runScript(redis, scripts.lock, [key], [token, 'renew', ttlMs])) === 1,
  release: async () => {
    await runScript(redis, scripts.lock, [key], [token, 'release']).catch(() => undefined);
  },
});

/** Takes the lock if nobody holds it; null otherwise. */
export const tryLock = async (redis: Redis, key: string, ttlMs: number): Promise<Lock | null> => {
  const token = newLockToken();
  return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK' ? heldLock(redis, key, token, ttlMs) : null;
};
