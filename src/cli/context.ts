import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../adapters/config/env.ts';
import { createLogger, type Logger } from '../adapters/logging/logger.ts';
import { connected, createRedis } from '../adapters/redis/client.ts';
import { type Keys, redisKeys } from '../adapters/redis/keys.ts';

/** What every command needs: the config from the environment (as the service reads it) and Redis. */
export type CliContext = Readonly<{
  config: Config;
  keys: Keys;
  redis: Redis;
  /** A second connection for blocking reads. */
  blocking: Redis;
  log: Logger;
  out: (line: string) => void;
}>;

export const openContext = async (): Promise<CliContext> => {
  const config = loadConfig();
  const redis = createRedis(config, 'worker', 'cli');
  const blocking = createRedis(config, 'worker', 'cli-blocking');
  await Promise.all([connected(redis), connected(blocking)]);
  return {
    config,
    keys: redisKeys(config.REDIS_PREFIX),
    redis,
    blocking,
    // progress and tables go to stdout; the log (warnings only) to stderr
    log: createLogger(process.env.LOG_LEVEL ?? 'warn'),
    out: (line) => process.stdout.write(`${line}\n`),
  };
};

export const closeContext = async (ctx: CliContext) => {
  await Promise.all([ctx.redis.quit(), ctx.blocking.quit()]);
};

export class UsageError extends Error {}

/** A plain-text table with aligned columns. */
export const table = (header: readonly string[], rows: readonly (readonly (string | number)[])[]): string => {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

/** `[#####-----]  52% 1,234/2,345 events` — rewritten in place on a terminal, one line per update otherwise. */
export const progressBar = (done: number, total: number, unit: string, width = 30): string => {
  const share = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}`;
};
