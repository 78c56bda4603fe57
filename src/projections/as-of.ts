import type { Redis } from 'ioredis';
import type { Keys } from '../adapters/redis/keys.ts';
import { ledgerEvent, ledgerIdTime, ledgerStart } from '../adapters/redis/ledger.ts';
import { evolve } from '../domain/task/evolve.ts';
import { initialTask, type Task, type TaskStatus } from '../domain/task/task.ts';
import type { LedgerEvent } from './projection.ts';

import { STATUSES, type StatusCounts } from './read-models.ts';

export class AsOfError extends Error {
  readonly code: 'before_retention' | 'too_many_events';
  constructor(code: AsOfError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Folds ledger events into each task's status, for the tasks of one queue (pure; fed page by page). */
export class QueueReplay {
  readonly #queue: string;
  readonly #tasks = new Map<string, Task>();

  constructor(queue: string) {
    this.#queue = queue;
  }

  apply(events: readonly LedgerEvent[]): void {
    for (const e of events) {
      if (e.type === 'enqueued' && e.data.queue !== this.#queue) continue;
      if (e.type === 'expunged') {
        this.#tasks.delete(e.taskId);
        continue;
      }
      const task = this.#tasks.get(e.taskId);
      if (!task && e.type !== 'enqueued') continue;
      this.#tasks.set(e.taskId, evolve(task ?? initialTask(e.taskId), e));
    }
  }

  counts(): StatusCounts {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as StatusCounts;
    for (const t of this.#tasks.values()) if (t.status !== 'new') counts[t.status as TaskStatus]++;
    return counts;
  }
}

export type QueueAsOf = Readonly<{
  counts: StatusCounts;
  replayedEvents: number;
  ledgerFrom: number | null;
  /** False once the ledger has been trimmed: tasks enqueued before its oldest entry are not counted. */
  complete: boolean;
}>;

/**
 * A queue's counts by status at `asOf`, by replaying the ledger from its oldest retained entry up to that instant.
 * Bounded: at most `maxEvents` are read, and an instant before the oldest retained entry is refused (the tasks
 * enqueued before it are no longer in Redis; the NDJSON archive holds them).
 */
export const queueCountsAsOf = async (
  redis: Redis,
  keys: Keys,
  queue: string,
  asOf: number,
  maxEvents: number,
): Promise<QueueAsOf> => {
  const start = await ledgerStart(redis, keys);
  const ledgerFrom = start.firstId === null ? null : ledgerIdTime(start.firstId);
  if (ledgerFrom !== null && asOf < ledgerFrom && start.trimmed) {
    throw new AsOfError(
      'before_retention',
      `as_of is before the oldest event kept in Redis (${new Date(ledgerFrom).toISOString()}); replay the ledger archive for older instants`,
    );
  }
  const replay = new QueueReplay(queue);
  let from = '-';
  let replayed = 0;
  for (;;) {
    const page = (await redis.xrange(keys.events, from, `${asOf}`, 'COUNT', 5000)) as [string, string[]][];
    if (page.length === 0) break;
    replayed += page.length;
    if (replayed > maxEvents) {
      throw new AsOfError(
        'too_many_events',
        `answering needs more than ${maxEvents} ledger events (AS_OF_MAX_EVENTS); choose a later as_of or raise the limit`,
      );
    }
    replay.apply(page.map(([id, fields]) => ledgerEvent(id, fields)));
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
  return { counts: replay.counts(), replayedEvents: replayed, ledgerFrom, complete: !start.trimmed };
};
