import type { Redis } from 'ioredis';
import type { Keys } from '../adapters/redis/keys.ts';
import { TaskStatus } from '../domain/task/task.ts';
import { generationsOf } from './generations.ts';
import { percentile } from './latency.ts';
import { utcDay } from './projection.ts';
import { decodePlace, TASKS_PROJECTION, taskIndexKeys } from './task-index.ts';
import { USAGE_COUNTS, USAGE_PROJECTION, type UsageCount, usageKeys } from './usage.ts';

export const STATUSES = Object.keys(TaskStatus) as TaskStatus[];

/** The keys of a projection's generation that serves reads now. */
export const activeKey = async (redis: Redis, keys: Keys, name: string) => {
  const { active } = await generationsOf(redis, keys, name);
  const prefix = keys.projectionGen(name, active);
  return (suffix: string) => `${prefix}${suffix}`;
};

export type StatusCounts = Record<TaskStatus, number>;

export const statusCounts = async (
  redis: Redis,
  keys: Keys,
  of: { queue: string } | { clientId: string },
): Promise<StatusCounts> => {
  const k = taskIndexKeys(await activeKey(redis, keys, TASKS_PROJECTION));
  // one MULTI: a task moving between two status lists mid-read is counted once, not zero or two times
  const pipeline = redis.multi();
  for (const s of STATUSES) pipeline.zcard('queue' in of ? k.byQueue(of.queue, s) : k.byClient(of.clientId, s));
  const replies = (await pipeline.exec()) ?? [];
  return Object.fromEntries(STATUSES.map((s, i) => [s, Number(replies[i]?.[1] ?? 0)])) as StatusCounts;
};

export type DayUsage = Readonly<
  { day: string } & Record<UsageCount, number> & { latency_p50_ms: number | null; latency_p95_ms: number | null }
>;

/** Totals per UTC day, newest first, for the `days` days up to `now`. */
export const dailyUsage = async (
  redis: Redis,
  keys: Keys,
  of: { queue: string } | { clientId: string },
  now: number,
  days: number,
): Promise<DayUsage[]> => {
  const k = usageKeys(await activeKey(redis, keys, USAGE_PROJECTION));
  const dayNames = Array.from({ length: days }, (_, i) => utcDay(now - i * 86_400_000));
  const pipeline = redis.pipeline();
  for (const day of dayNames)
    pipeline.hgetall('queue' in of ? k.queueDay(of.queue, day) : k.clientDay(of.clientId, day));
  const replies = (await pipeline.exec()) ?? [];
  return dayNames.map((day, i) => {
    const fields = (replies[i]?.[1] ?? {}) as Record<string, string>;
    const histogram = new Map<number, number>();
    for (const [f, v] of Object.entries(fields)) if (f.startsWith('l')) histogram.set(Number(f.slice(1)), Number(v));
    const counts = Object.fromEntries(USAGE_COUNTS.map((c) => [c, Number(fields[c] ?? 0)])) as Record<
      UsageCount,
      number
    >;
    return { day, ...counts, latency_p50_ms: percentile(histogram, 0.5), latency_p95_ms: percentile(histogram, 0.95) };
  });
};

export const knownQueues = async (redis: Redis, keys: Keys): Promise<string[]> => {
  const k = taskIndexKeys(await activeKey(redis, keys, TASKS_PROJECTION));
  return (await redis.smembers(k.queues)).sort();
};

/**
 * Age of the oldest task waiting in a queue's ready stream, in ms (null when none waits). Read from the ready
 * stream itself: an entry after the workers' last delivered one was made ready at its id's time. A cancelled
 * task's entry stays in the stream until a worker drops it, so entries are checked against the `tasks`
 * projection and only a task still pending counts (up to `scan` entries are looked at).
 */
export const oldestPendingAgeMs = async (redis: Redis, keys: Keys, queue: string, now: number, scan = 200) => {
  try {
    const groups = (await redis.xinfo('GROUPS', keys.ready(queue))) as unknown[][];
    const row = groups.find((g) => g[g.indexOf('name') + 1] === keys.workerGroup);
    const delivered = row ? String(row[row.indexOf('last-delivered-id') + 1]) : '0-0';
    const entries = (await redis.xrange(keys.ready(queue), `(${delivered}`, '+', 'COUNT', scan)) as [
      string,
      string[],
    ][];
    if (entries.length === 0) return null;
    const k = taskIndexKeys(await activeKey(redis, keys, TASKS_PROJECTION));
    const places = await redis.hmget(k.rec, ...entries.map(([, fields]) => fields[1] as string));
    const waiting = entries.find((_, i) => {
      const place = places[i];
      return place ? decodePlace(place).status === 'pending' : false;
    });
    return waiting ? Math.max(0, now - Number(waiting[0].split('-')[0])) : null;
  } catch (err) {
    if (String(err).includes('no such key')) return null;
    throw err;
  }
};

export type TaskListQuery = Readonly<{
  queue?: string;
  status?: TaskStatus;
  clientId?: string;
  limit: number;
  /** The last task id of the previous page; the next page holds older tasks only. */
  cursor?: string;
}>;

/**
 * Task ids, newest first. Each (queue or client, status) list is read from below the cursor and the lists are
 * merged by id; ids are UUIDv7, so the order is enqueue order and a page boundary stays put while tasks are
 * added or change status. `accept` filters ids (the queue when listing by client); the caller loads the tasks.
 */
export const listTaskIds = async (
  redis: Redis,
  keys: Keys,
  q: TaskListQuery,
  accept: (ids: string[]) => Promise<string[]> = async (ids) => ids,
): Promise<{ ids: string[]; nextCursor: string | null }> => {
  const k = taskIndexKeys(await activeKey(redis, keys, TASKS_PROJECTION));
  const statuses = q.status ? [q.status] : STATUSES;
  let lists: string[];
  if (q.clientId !== undefined) lists = statuses.map((s) => k.byClient(q.clientId as string, s));
  else {
    const queues = q.queue !== undefined ? [q.queue] : (await redis.smembers(k.queues)).sort();
    lists = queues.flatMap((queue) => statuses.map((s) => k.byQueue(queue, s)));
  }
  const ids: string[] = [];
  let cursor = q.cursor;
  // filtered pages may need several rounds; a bounded number keeps one request cheap
  for (let round = 0; round < 10 && ids.length < q.limit; round++) {
    const want = q.limit - ids.length;
    const merged = await mergeBelow(redis, lists, cursor, want + 1);
    const page = merged.slice(0, want);
    ids.push(...(await accept(page)));
    if (merged.length <= want) return { ids, nextCursor: null };
    cursor = page.at(-1);
  }
  return { ids, nextCursor: cursor ?? null };
};

const mergeBelow = async (redis: Redis, lists: readonly string[], cursor: string | undefined, n: number) => {
  if (lists.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const list of lists)
    pipeline.zrevrangebylex(list, cursor === undefined ? '+' : `(${cursor}`, '-', 'LIMIT', 0, n);
  const replies = (await pipeline.exec()) ?? [];
  const all = new Set<string>();
  for (const [, ids] of replies) for (const id of (ids ?? []) as string[]) all.add(id);
  return [...all].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).slice(0, n);
};
