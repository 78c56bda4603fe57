import type { Redis } from 'ioredis';
import type { LedgerEvent } from '../adapters/redis/ledger.ts';
import type { Recorded } from '../domain/task/events.ts';

export { compareLedgerIds, type LedgerEvent, utcDay } from '../adapters/redis/ledger.ts';

/** One read-model write. Projections only ever add, remove, set and count. */
export type Write =
  | readonly ['HSET', string, string, string]
  | readonly ['HDEL', string, string]
  | readonly ['HINCRBY', string, string, number]
  | readonly ['ZADD', string, number, string]
  | readonly ['ZREM', string, string]
  | readonly ['SADD', string, string];

/**
 * A read model built from the ledger. `plan` turns a batch of events (in ledger order) into writes; it may read
 * the generation's own keys (`key(...)`) to learn what earlier batches left, as only one process applies a
 * generation at a time. It must be deterministic: the same events on the same state give the same writes.
 */
export type Projection = Readonly<{
  name: string;
  plan(events: readonly LedgerEvent[], ctx: PlanContext): Promise<Write[]>;
  /**
   * For a generation rebuilt from a trimmed ledger: writes that place the given stored tasks this generation has
   * not placed (every event of theirs was trimmed). Optional; must converge with events applied later.
   */
  seed?(taskIds: readonly string[], ctx: PlanContext): Promise<Write[]>;
}>;

export type PlanContext = Readonly<{
  redis: Redis;
  /** A key of this generation: `key('rec')` → `td:{p0}:proj:tasks:g3:rec`. */
  key: (suffix: string) => string;
  /** The stored task, for a task whose earlier events are no longer in the ledger (trimmed). */
  loadHistory: (taskIds: readonly string[]) => Promise<Map<string, Recorded[]>>;
}>;

export type BatchStart = Readonly<{
  /** The tasks of the batch, in order of first appearance. */
  taskIds: readonly string[];
  /** The task's `rec` record before this batch, or null. */
  record: (taskId: string) => string | null;
  /**
   * For a task with no record whose first event here is neither `enqueued` nor `expunged` (its earlier events
   * were trimmed from the ledger): its stored events before that one. Otherwise undefined.
   */
  earlier: (taskId: string) => readonly Recorded[] | undefined;
}>;

/** Where each task of a batch starts from: one HMGET of `rec`, and a history read for trimmed tasks only. */
export const batchStart = async (
  events: readonly LedgerEvent[],
  ctx: PlanContext,
  recKey: string,
): Promise<BatchStart> => {
  const firsts = new Map<string, LedgerEvent>();
  for (const e of events) if (!firsts.has(e.taskId)) firsts.set(e.taskId, e);
  const taskIds = [...firsts.keys()];
  const raw = taskIds.length > 0 ? await ctx.redis.hmget(recKey, ...taskIds) : [];
  const records = new Map(taskIds.map((id, i) => [id, raw[i] ?? null]));
  const trimmed = taskIds.filter((id) => {
    const first = firsts.get(id) as LedgerEvent;
    return records.get(id) === null && first.type !== 'enqueued' && first.type !== 'expunged';
  });
  const histories = trimmed.length > 0 ? await ctx.loadHistory(trimmed) : new Map<string, Recorded[]>();
  const earlier = new Map(
    trimmed.map((id) => {
      const before = (firsts.get(id) as LedgerEvent).version;
      return [id, (histories.get(id) ?? []).filter((e) => e.version < before)];
    }),
  );
  return { taskIds, record: (id) => records.get(id) ?? null, earlier: (id) => earlier.get(id) };
};
