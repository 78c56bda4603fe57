import type { Redis } from 'ioredis';
import type { Keys } from '../../src/adapters/redis/keys.ts';

/** Raw reads of the keys the scripts write, so tests assert Redis state rather than what the store says. */

const fieldsOf = (flat: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
};

/** HGETALL of the task hash: v (version), h (history lines), r (request JSON). */
export const taskHash = (redis: Redis, keys: Keys, taskId: string): Promise<Record<string, string>> =>
  redis.hgetall(keys.task(taskId));

export type LedgerEntry = Readonly<{ entryId: string; id: string; e: string }>;

export const ledger = async (redis: Redis, keys: Keys): Promise<LedgerEntry[]> =>
  (await redis.xrange(keys.events, '-', '+')).map(([entryId, flat]) => {
    const f = fieldsOf(flat);
    return { entryId, id: f.id ?? '', e: f.e ?? '' };
  });

export type ReadyEntry = Readonly<{ entryId: string; taskId: string }>;

export const readyEntries = async (redis: Redis, keys: Keys, queue: string): Promise<ReadyEntry[]> =>
  (await redis.xrange(keys.ready(queue), '-', '+')).map(([entryId, flat]) => ({
    entryId,
    taskId: fieldsOf(flat).id ?? '',
  }));

export type PendingEntry = Readonly<{ entryId: string; consumer: string; idleMs: number; deliveries: number }>;

/** XPENDING (extended form) of the worker group on a ready stream. */
export const pendingEntries = async (redis: Redis, keys: Keys, queue: string): Promise<PendingEntry[]> => {
  const rows = (await redis.call('XPENDING', keys.ready(queue), keys.workerGroup, '-', '+', 1000)) as [
    string,
    string,
    number,
    number,
  ][];
  return rows.map(([entryId, consumer, idleMs, deliveries]) => ({ entryId, consumer, idleMs, deliveries }));
};

/** Who holds each pending entry, without the idle times that change from one read to the next. */
export const holders = async (redis: Redis, keys: Keys, queue: string): Promise<Record<string, string>> =>
  Object.fromEntries((await pendingEntries(redis, keys, queue)).map((p) => [p.entryId, p.consumer]));

export type DueMember = Readonly<{ taskId: string; dueAt: number }>;

/** ZRANGE WITHSCORES, in either reply shape: flat (RESP2) or [member, score] pairs (RESP3, ioredis 6's default). */
export const dueSet = async (redis: Redis, keys: Keys): Promise<DueMember[]> => {
  const reply = (await redis.call('ZRANGE', keys.due, 0, -1, 'WITHSCORES')) as (string | [string, string | number])[];
  const pairs: [string, string | number][] = [];
  for (let i = 0; i < reply.length; i++) {
    const item = reply[i];
    if (Array.isArray(item)) pairs.push(item);
    else pairs.push([item as string, reply[++i] as string]);
  }
  return pairs.map(([taskId, score]) => ({ taskId, dueAt: Number(score) }));
};

/** Everything one task's commit can touch, for "nothing was written" assertions. */
export const taskState = async (redis: Redis, keys: Keys, taskId: string, queue: string) => ({
  hash: await taskHash(redis, keys, taskId),
  ledger: await ledger(redis, keys),
  ready: await readyEntries(redis, keys, queue),
  pending: await holders(redis, keys, queue),
  due: await dueSet(redis, keys),
});

/** Dispatches in flight and tasks parked, per client, as the lease script counts them. */
export const inFlightByClient = async (
  redis: Redis,
  keys: Keys,
): Promise<Map<string, { inFlight: number; parked: number }>> => {
  const counts = await redis.hgetall(keys.inFlight);
  const parkedClients = await redis.smembers(keys.parkedClients);
  const out = new Map<string, { inFlight: number; parked: number }>();
  for (const [client, n] of Object.entries(counts)) out.set(client, { inFlight: Number(n), parked: 0 });
  for (const client of parkedClients) {
    const parked = await redis.llen(keys.parked(client));
    out.set(client, { inFlight: out.get(client)?.inFlight ?? 0, parked });
  }
  return out;
};
