import type { Redis } from 'ioredis';
import type { Keys } from '../../src/adapters/redis/keys.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { evolve } from '../../src/domain/task/evolve.ts';
import { initialTask, type Task, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { generationsOf, projectionLags } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../../src/projections/index.ts';
import { latencyBucket } from '../../src/projections/latency.ts';
import { utcDay } from '../../src/projections/projection.ts';

/** One key of a read model, by type: hash fields, sorted-set members with scores, set members (both sorted). */
export type KeyValue =
  | { type: 'hash'; value: Record<string, string> }
  | { type: 'zset'; value: [string, string][] }
  | { type: 'set'; value: string[] }
  | { type: string; value: null };

/** Every key of one generation of a projection, named without the generation's prefix. */
export type ProjectionSnapshot = Record<string, KeyValue>;

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Reads every key under `prefix`, type by type, into a plain object keyed by the rest of the key's name. */
export const snapshotPrefix = async (redis: Redis, prefix: string): Promise<ProjectionSnapshot> => {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  const out: ProjectionSnapshot = {};
  for (const key of [...new Set(found)].sort(byString)) {
    const type = await redis.type(key);
    const name = key.slice(prefix.length);
    if (type === 'hash') {
      const all = await redis.hgetall(key);
      out[name] = { type, value: Object.fromEntries(Object.entries(all).sort(([a], [b]) => byString(a, b))) };
    } else if (type === 'zset') {
      const flat = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
      out[name] = { type, value: pairs.sort(([a], [b]) => byString(a, b)) };
    } else if (type === 'set') {
      out[name] = { type, value: (await redis.smembers(key)).sort(byString) };
    } else if (type !== 'none') {
      out[name] = { type, value: null };
    }
  }
  return out;
};

/** The active generation of a projection and all its keys. */
export const snapshotActive = async (redis: Redis, keys: Keys, name: string) => {
  const { active } = await generationsOf(redis, keys, name);
  return { gen: active, keys: await snapshotPrefix(redis, keys.projectionGen(name, active)) };
};

/** Up to `max` human-readable differences between two snapshots; empty when they are equal key by key. */
export const diffSnapshots = (expected: ProjectionSnapshot, actual: ProjectionSnapshot, max = 15): string[] => {
  const diffs: string[] = [];
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort(byString);
  for (const name of names) {
    if (diffs.length >= max) break;
    const e = expected[name];
    const a = actual[name];
    if (!e || !a) {
      diffs.push(`${name}: ${e ? 'missing' : 'unexpected'} (${JSON.stringify(e ?? a).slice(0, 200)})`);
      continue;
    }
    const ej = JSON.stringify(e);
    const aj = JSON.stringify(a);
    if (ej === aj) continue;
    if (e.type === 'hash' && a.type === 'hash' && e.value && a.value) {
      const ev = e.value as Record<string, string>;
      const av = a.value as Record<string, string>;
      const fields = [...new Set([...Object.keys(ev), ...Object.keys(av)])].filter((f) => ev[f] !== av[f]);
      diffs.push(`${name}: fields ${fields.slice(0, 5).map((f) => `${f} expected ${ev[f]} got ${av[f]}`)}`);
    } else {
      diffs.push(`${name}: expected ${ej.slice(0, 300)} got ${aj.slice(0, 300)}`);
    }
  }
  return diffs;
};

/** Waits until every projection has applied the whole ledger and no rebuild is in progress. */
export const waitForProjections = async (redis: Redis, keys: Keys, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lags = await projectionLags(redis, keys, PROJECTION_NAMES);
    if (lags.every((l) => l.lag === 0 && l.rebuilding === null)) return lags;
    if (Date.now() > until) throw new Error(`projections did not catch up: ${JSON.stringify(lags)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** The task each history folds to, and when it first became finished (0 if it is not). */
const foldWithFinish = (id: string, events: readonly Recorded[]) => {
  let task: Task = initialTask(id);
  let finishedAt = 0;
  for (const e of events) {
    const next = evolve(task, e);
    if (TERMINAL_STATUSES.has(next.status) && !TERMINAL_STATUSES.has(task.status)) finishedAt = e.at;
    task = next;
  }
  return { task, finishedAt };
};

/**
 * What the `tasks` and `usage` projections must hold, computed independently from every task's full history
 * (as the task hashes keep it), for a quiet system where every task has finished: a live task would also have
 * a `rec` entry, which this oracle does not model. `ledger` is the last ledger id and its length (the meta).
 */
export const expectedProjections = (
  histories: ReadonlyMap<string, readonly Recorded[]>,
  ledger: { lastId: string; length: number },
): { tasks: ProjectionSnapshot; usage: ProjectionSnapshot } => {
  const zsets = new Map<string, Map<string, string>>();
  const sets = new Map<string, Set<string>>();
  const hashes = new Map<string, Map<string, number>>();
  const zadd = (key: string, member: string, score: number) => {
    const z = zsets.get(key) ?? new Map<string, string>();
    z.set(member, String(score));
    zsets.set(key, z);
  };
  const sadd = (key: string, member: string) => sets.set(key, (sets.get(key) ?? new Set()).add(member));
  const hincr = (key: string, field: string) => {
    const h = hashes.get(key) ?? new Map<string, number>();
    h.set(field, (h.get(field) ?? 0) + 1);
    hashes.set(key, h);
  };
  for (const [id, events] of histories) {
    const { task, finishedAt } = foldWithFinish(id, events);
    if (!TERMINAL_STATUSES.has(task.status)) throw new Error(`task ${id} is ${task.status}: not a quiet system`);
    zadd(`q:${task.queue}:${task.status}`, id, 0);
    zadd(`c:${task.clientId}:${task.status}`, id, 0);
    zadd('finished', id, finishedAt);
    sadd('queues', task.queue);
    sadd('clients', task.clientId);
    for (const e of events) {
      const day = utcDay(e.at);
      const fields =
        e.type === 'enqueued'
          ? ['enqueued']
          : e.type === 'attempted'
            ? ['attempts', `l${latencyBucket(e.data.latencyMs)}`]
            : e.type === 'succeeded' || e.type === 'failed'
              ? [e.type]
              : [];
      for (const f of fields) {
        hincr(`d:q:${task.queue}:${day}`, f);
        hincr(`d:c:${task.clientId}:${day}`, f);
      }
    }
  }
  // caught up, a generation's seq is the ledger's entries-added: its length, as nothing is trimmed here
  const meta: KeyValue = {
    type: 'hash',
    value: { applied: String(ledger.length), checkpoint: ledger.lastId, seq: String(ledger.length) },
  };
  const sorted = <T>(entries: [string, T][]) => entries.sort(([a], [b]) => byString(a, b));
  const tasks: ProjectionSnapshot = { meta };
  for (const [key, z] of zsets) tasks[key] = { type: 'zset', value: sorted([...z]) };
  for (const [key, s] of sets) tasks[key] = { type: 'set', value: [...s].sort(byString) };
  const usage: ProjectionSnapshot = { meta };
  for (const [key, h] of hashes) {
    usage[key] = { type: 'hash', value: Object.fromEntries(sorted([...h].map(([f, n]) => [f, String(n)]))) };
  }
  return { tasks, usage };
};

/** The REDIS_PREFIX a service's keys were made with (keys.events is `<prefix>:{p0}:events`). */
export const prefixOf = (keys: Keys) => keys.events.slice(0, keys.events.indexOf(':{'));
