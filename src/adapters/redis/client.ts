import { Redis } from 'ioredis';
import type { Config } from '../config/env.ts';

/**
 * `api` connections fail fast (no offline queue, a command timeout) so an enqueue answers 503 instead of
 * hanging; `worker` connections wait through a failover (commands are queued and resent).
 */
export type ConnectionRole = 'api' | 'worker';

export const parseSentinels = (addr: string): { host: string; port: number }[] =>
  addr
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const at = s.lastIndexOf(':');
      const host = at > 0 ? s.slice(0, at) : s;
      const port = at > 0 ? Number(s.slice(at + 1)) : 26379;
      if (!Number.isInteger(port) || port <= 0) throw new Error(`REDIS_SENTINEL_ADDR: bad port in "${s}"`);
      return { host: host.replace(/^\[|\]$/g, ''), port };
    });

export const createRedis = (config: Config, role: ConnectionRole, name: string): Redis => {
  const common = {
    connectionName: `td-${name}`,
    enableAutoPipelining: true,
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
    ...(role === 'api'
      ? { enableOfflineQueue: false, commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 }
      : { maxRetriesPerRequest: null }),
  };
  if (!config.REDIS_SENTINEL_ADDR) return new Redis(config.REDIS_URL, common);
  return new Redis({
    ...common,
    sentinels: parseSentinels(config.REDIS_SENTINEL_ADDR),
    name: config.REDIS_MASTER_NAME,
    ...(config.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: config.REDIS_SENTINEL_PASSWORD } : {}),
  });
};

/** Resolves once the connection is ready; rejects with a message saying what to check. */
export const connected = (redis: Redis, timeoutMs = 10_000): Promise<void> =>
  new Promise((resolve, reject) => {
    if (redis.status === 'ready') return resolve();
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`could not reach Redis within ${timeoutMs} ms: check REDIS_URL or REDIS_SENTINEL_ADDR`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
