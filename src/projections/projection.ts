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
