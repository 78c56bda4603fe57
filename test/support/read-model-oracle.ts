import type { Redis } from 'ioredis';
import type { Keys } from '../../src/adapters/redis/keys.ts';
import { ledgerEvent } from '../../src/adapters/redis/ledger.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { evolve } from '../../src/domain/task/evolve.ts';
import { initialTask, type Task, type TaskStatus, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { genMetaKey } from '../../src/projections/generations.ts';
import { latencyBucket } from '../../src/projections/latency.ts';
import { type LedgerEvent, utcDay } from '../../src/projections/projection.ts';

/**
 * The read models as plain data, and what they must hold computed independently of the projections: from the
 * ledger (which events were there to be applied) and each task's own full history (where it ends up).
 */

/** A key's content: hash → fields, sorted set → member → score, set → sorted members. */
export type KeyContent = Record<string, string> | Record<string, number> | string[] | { type: string };
export type KeySnapshot = Record<string, KeyContent>;

const scan = async (redis: Redis, pattern: string): Promise<string[]> => {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key);
  } while (cursor !== '0');
  return [...found].sort();
};

/** ZRANGE WITHSCORES in either reply shape (flat in RESP2, pairs in RESP3). */
const zsetOf = async (redis: Redis, key: string): Promise<Record<string, number>> => {
  const reply = (await redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')) as (string | [string, string | number])[];
  const out: Record<string, number> = {};
  for (let i = 0; i < reply.length; i++) {
    const item = reply[i];
    if (Array.isArray(item)) out[item[0]] = Number(item[1]);
    else out[item as string] = Number(reply[++i]);
  }
  return out;
};

/** Every key under `prefix`, named without it. */
export const readKeys = async (redis: Redis, prefix: string): Promise<KeySnapshot> => {
  const out: KeySnapshot = {};
  for (const key of await scan(redis, `${prefix}*`)) {
    const name = key.slice(prefix.length);
    const type = await redis.type(key);
    if (type === 'hash') out[name] = await redis.hgetall(key);
    else if (type === 'zset') out[name] = await zsetOf(redis, key);
    else if (type === 'set') out[name] = (await redis.smembers(key)).sort();
    else if (type !== 'none') out[name] = { type };
  }
  return out;
};

/** The keys of one generation of a projection, its meta hash apart. */
export const readGeneration = async (redis: Redis, keys: Keys, name: string, gen = 1) => {
  const { meta, ...rest } = await readKeys(redis, keys.projectionGen(name, gen));
  return { meta: (meta ?? {}) as Record<string, string>, keys: rest };
};

export const metaOf = (redis: Redis, keys: Keys, name: string, gen = 1) =>
  redis.hgetall(genMetaKey(keys, name, gen)) as Promise<Record<string, string>>;

/** The whole ledger as the projector decodes it. */
export const readLedger = async (redis: Redis, keys: Keys): Promise<LedgerEvent[]> => {
  const out: LedgerEvent[] = [];
  let from = '-';
  for (;;) {
    const page = (await redis.xrange(keys.events, from, '+', 'COUNT', 5000)) as [string, string[]][];
    for (const [id, fields] of page) out.push(ledgerEvent(id, fields));
    if (page.length < 5000) return out;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
};

const isTerminal = (s: Task['status']) => TERMINAL_STATUSES.has(s);

/** The task a history folds to, and the time of the event that finished it (0 while it is not finished). */
export const foldHistory = (taskId: string, history: readonly Recorded[]) => {
  let task = initialTask(taskId);
  let finishedAt = 0;
  for (const e of history) {
    const next = evolve(task, e);
    if (isTerminal(next.status) && !isTerminal(task.status)) finishedAt = e.at;
    task = next;
  }
  return { task, finishedAt };
};

export type Expected = Readonly<{
  tasks: KeySnapshot;
  usage: KeySnapshot;
  /** Tasks by queue / client and status, as `statusCounts` must answer. */
  byQueue: Record<string, Record<TaskStatus, number>>;
  byClient: Record<string, Record<TaskStatus, number>>;
  /** Counts per queue / client per UTC day, as the usage hashes hold them (latency buckets included). */
  queueDays: Record<string, Record<string, Record<string, number>>>;
  clientDays: Record<string, Record<string, Record<string, number>>>;
}>;

const STATUS_NAMES: TaskStatus[] = ['scheduled', 'pending', 'active', 'retrying', 'succeeded', 'failed', 'cancelled'];
const zeroCounts = () => Object.fromEntries(STATUS_NAMES.map((s) => [s, 0])) as Record<TaskStatus, number>;

const countedFields = (e: Recorded): string[] => {
  switch (e.type) {
    case 'enqueued':
      return ['enqueued'];
    case 'attempted':
      return ['attempts', `l${latencyBucket(e.data.latencyMs)}`];
    case 'succeeded':
    case 'failed':
    case 'deferred':
      return [e.type];
    default:
      return [];
  }
};

/**
 * What both read models must hold once the events of `ledger` (every entry applied, in order) have been applied. A
 * task is placed where its history (`histories`) leaves it as of its last applied event, if at least one of its
 * events was applied and none was its expunged event; usage counts exactly the applied events, each on the UTC day
 * it happened, under its task's queue and client.
 */
export const expectedReadModels = (
  ledger: readonly LedgerEvent[],
  histories: ReadonlyMap<string, readonly Recorded[]>,
): Expected => {
  const byTask = new Map<string, LedgerEvent[]>();
  for (const e of ledger) byTask.set(e.taskId, [...(byTask.get(e.taskId) ?? []), e]);

  const zsets = new Map<string, Record<string, number>>();
  const zadd = (key: string, member: string, score: number) => {
    zsets.set(key, { ...(zsets.get(key) ?? {}), [member]: score });
  };
  const tasksRec: Record<string, string> = {};
  const usageRec: Record<string, string> = {};
  const queues = new Set<string>();
  const clients = new Set<string>();
  const queueDays: Expected['queueDays'] = {};
  const clientDays: Expected['clientDays'] = {};
  const byQueue: Expected['byQueue'] = {};
  const byClient: Expected['byClient'] = {};
  const bump = (into: Expected['queueDays'], owner: string, day: string, field: string) => {
    const days = into[owner] ?? {};
    const fields = days[day] ?? {};
    fields[field] = (fields[field] ?? 0) + 1;
    days[day] = fields;
    into[owner] = days;
  };

  for (const [id, events] of byTask) {
    const history = histories.get(id) ?? [];
    const enqueued = [...events, ...history].find((e) => e.type === 'enqueued');
    if (enqueued?.type !== 'enqueued') continue;
    const { queue, clientId } = enqueued.data;
    queues.add(queue);
    clients.add(clientId);
    for (const e of events) {
      for (const field of countedFields(e)) {
        bump(queueDays, queue, utcDay(e.at), field);
        bump(clientDays, clientId, utcDay(e.at), field);
      }
    }
    if (events.some((e) => e.type === 'expunged')) continue;
    // where the task's history leaves it up to its last applied event (all of it, unless the ledger lost its last
    // events before they were applied)
    const lastApplied = Math.max(...events.map((e) => e.version));
    const { task, finishedAt } = foldHistory(
      id,
      history.filter((e) => e.version <= lastApplied),
    );
    if (task.status === 'new') throw new Error(`no history for task ${id}`);
    const status = task.status;
    zadd(`q:${queue}:${status}`, id, 0);
    zadd(`c:${clientId}:${status}`, id, 0);
    const ofQueue = byQueue[queue] ?? zeroCounts();
    const ofClient = byClient[clientId] ?? zeroCounts();
    ofQueue[status]++;
    ofClient[status]++;
    byQueue[queue] = ofQueue;
    byClient[clientId] = ofClient;
    if (isTerminal(status)) zadd('finished', id, finishedAt);
    else {
      tasksRec[id] = JSON.stringify([status, queue, clientId]);
      usageRec[id] = JSON.stringify([queue, clientId]);
    }
  }

  const tasks: KeySnapshot = Object.fromEntries(zsets);
  if (queues.size > 0) tasks.queues = [...queues].sort();
  if (clients.size > 0) tasks.clients = [...clients].sort();
  if (Object.keys(tasksRec).length > 0) tasks.rec = tasksRec;
  const usage: KeySnapshot = {};
  const asStrings = (fields: Record<string, number>) =>
    Object.fromEntries(Object.entries(fields).map(([f, n]) => [f, String(n)]));
  for (const [queue, days] of Object.entries(queueDays))
    for (const [day, fields] of Object.entries(days)) usage[`d:q:${queue}:${day}`] = asStrings(fields);
  for (const [clientId, days] of Object.entries(clientDays))
    for (const [day, fields] of Object.entries(days)) usage[`d:c:${clientId}:${day}`] = asStrings(fields);
  if (Object.keys(usageRec).length > 0) usage.rec = usageRec;
  return { tasks, usage, byQueue, byClient, queueDays, clientDays };
};
