import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { inject } from 'vitest';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';

export const T0 = Date.UTC(2025, 0, 1);
export const silentLog = pino({ level: 'silent' });

export const redisUrl = (): string => inject('redisUrl');

/** A connection to the test run's redis-server, and a store under a prefix no other test uses. */
export const testStore = (prefix = `t-${randomUUID()}`) => {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const keys = redisKeys(prefix);
  return { redis, keys, prefix, store: new RedisTaskStore(redis, keys), close: () => redis.quit() };
};
