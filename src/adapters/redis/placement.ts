import type { Recorded } from '../../domain/task/events.ts';
import { evolve } from '../../domain/task/evolve.ts';
import type { HttpRequestSpec, Task } from '../../domain/task/task.ts';

/** One task's atomic commit: events decided on `expected`, plus where the task must move. */
export type TaskCommit = Readonly<{
  taskId: string;
  queue: string;
  expected: number;
  events: readonly Recorded[];
  request: HttpRequestSpec | null;
  /** The ready-stream entry this worker holds for the task; the commit fails with lease-lost if it does not. */
  entryId: string | null;
  /** The client tag of that entry as leased: the in-flight count its ack decrements ('' = none). */
  entryClient: string;
  ack: boolean;
  ready: boolean;
  due: number | 'remove' | null;
  /** Tagged on a new ready entry, so leasing can hold the client to its in-flight limit. */
  clientId: string;
}>;

const isDueStatus = (s: Task['status']) => s === 'scheduled' || s === 'retrying';

/**
 * Where a task lives follows from its status alone: pending → a ready stream, scheduled/retrying → the due
 * set, active → a worker's pending-entries list, finished → nowhere. A commit moves it from where `before`
 * put it to where the events leave it. This is the one place that maps statuses to Redis structures.
 */
export const commitFor = (
  before: Task,
  events: readonly Recorded[],
  opts: { entryId?: string; entryClient?: string; queue?: string; request?: HttpRequestSpec } = {},
): TaskCommit => {
  const after = events.reduce(evolve, before);
  const entryId = opts.entryId ?? null;
  let due: TaskCommit['due'] = null;
  if (isDueStatus(after.status) && after.dueAt !== null) due = after.dueAt;
  else if (isDueStatus(before.status)) due = 'remove';
  return {
    taskId: before.id,
    // a worker names the queue it read the entry from: the task itself may be unreadable or gone
    queue: opts.queue ?? after.queue,
    expected: before.version,
    events,
    request: opts.request ?? null,
    entryId,
    entryClient: opts.entryClient ?? '',
    ack: entryId !== null && after.status !== 'active',
    ready: after.status === 'pending' && before.status !== 'pending',
    due,
    clientId: after.clientId,
  };
};
