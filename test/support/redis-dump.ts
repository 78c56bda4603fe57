import type { Redis } from 'ioredis';

/**
 * Every key under `prefix` with its whole content, as one text to search: SCAN, then per type HGETALL, XRANGE
 * (and the consumer groups' pending entries), ZRANGE WITHSCORES, LRANGE, SMEMBERS or GET.
 */
export const dumpRedis = async (redis: Redis, prefix: string): Promise<{ keys: string[]; text: string }> => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  keys.sort();
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    let content: unknown;
    if (type === 'hash') content = await redis.hgetall(key);
    else if (type === 'stream') {
      const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
      const pending = [];
      for (const g of groups) pending.push(await redis.call('XPENDING', key, String(g[1]), '-', '+', '10000'));
      content = { entries: await redis.xrange(key, '-', '+'), groups, pending };
    } else if (type === 'zset') content = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'list') content = await redis.lrange(key, 0, -1);
    else if (type === 'set') content = await redis.smembers(key);
    else if (type === 'string') content = await redis.get(key);
    else content = `(${type})`;
    parts.push(`${key} ${type} ${JSON.stringify(content)}`);
  }
  return { keys, text: parts.join('\n') };
};
