import { backoffMs } from '../retry/backoff.ts';
import { classify } from './classify.ts';
import type {
  CancelTask,
  EnqueueTask,
  ExpungeTask,
  LeaseTask,
  ReclaimTask,
  RecordAttempt,
  ReleaseDue,
  TaskCommand,
} from './commands.ts';
import { defer } from './defer.ts';
import { assertNever, DomainError } from './errors.ts';
import type { TaskEvent } from './events.ts';
import { type Task, TERMINAL_STATUSES } from './task.ts';

/** Decides which events a command produces for a task at `now`. Pure: never mutates, never reads a clock. */
export const decide = (command: TaskCommand, task: Task, now: number): TaskEvent[] => {
  switch (command.type) {
    case 'EnqueueTask':
      return enqueue(command, task, now);
    case 'ReleaseDue':
      return release(command, task, now);
    case 'LeaseTask':
      return lease(command, task);
    case 'RecordAttempt':
      return recordAttempt(command, task, now);
    case 'ReclaimTask':
      return reclaim(command, task);
    case 'CancelTask':
      return cancel(command, task);
    case 'ExpungeTask':
      return expunge(command, task);
    case 'DeferTask':
      return defer(command, task);
    default:
      return assertNever(command);
  }
};

const enqueue = ({ data }: EnqueueTask, task: Task, now: number): TaskEvent[] => {
  if (task.status !== 'new') throw new DomainError('AlreadyExists', `task ${task.id} already exists`);
  const scheduleTime = now + data.delayMs;
  const enqueued: TaskEvent = {
    type: 'enqueued',
    data: { queue: data.queue, clientId: data.clientId, scheduleTime },
  };
  return data.delayMs > 0 ? [enqueued, { type: 'scheduled', data: { dueAt: scheduleTime } }] : [enqueued];
};

/** Not yet due, or already released by another promoter: nothing to do. */
const release = (_: ReleaseDue, task: Task, now: number): TaskEvent[] => {
  if (task.status !== 'scheduled' && task.status !== 'retrying') return [];
  if (task.dueAt === null || task.dueAt > now) return [];
  return [{ type: 'released', data: { from: task.status } }];
};

/** A cancelled task can still sit in a ready stream: leasing it produces nothing and the entry is dropped. */
const lease = ({ data }: LeaseTask, task: Task): TaskEvent[] => {
  if (task.status === 'cancelled') return [];
  if (task.status !== 'pending') throw new DomainError('IllegalTransition', `cannot lease a ${task.status} task`);
  return [{ type: 'leased', data: { attempt: task.attempts + 1, workerId: data.workerId } }];
};

const recordAttempt = ({ data }: RecordAttempt, task: Task, now: number): TaskEvent[] => {
  if (task.status !== 'active' || task.workerId !== data.workerId || task.attempts !== data.attempt) {
    throw new DomainError('LeaseLost', `attempt ${data.attempt} by ${data.workerId} no longer holds the lease`);
  }
  const { attempt } = data;
  const attempted: TaskEvent = {
    type: 'attempted',
    data: { attempt, workerId: data.workerId, ...data.response },
  };
  const outcome = classify(data.response);
  if (outcome === 'success') return [attempted, { type: 'succeeded', data: { attempt } }];
  if (outcome === 'permanent') {
    return [attempted, { type: 'failed', data: { attempt, reason: data.response.error ?? 'permanent failure' } }];
  }
  if (attempt > data.retry.maxRetries) {
    return [attempted, { type: 'failed', data: { attempt, reason: 'attempts exhausted' } }];
  }
  // a Retry-After longer than the backoff wins, but never beyond the queue's max backoff
  const delay = Math.min(
    data.retry.maxBackoffMs,
    Math.max(backoffMs(attempt, data.retry, data.random), data.response.retryAfterMs ?? 0),
  );
  return [attempted, { type: 'retry_scheduled', data: { attempt: attempt + 1, dueAt: now + delay, backoffMs: delay } }];
};

/**
 * The holder of an expired lease is presumed dead. The lost dispatch counts as an attempt (its outcome is
 * unknown), so a task that kills every worker it reaches still ends in `failed`.
 */
const reclaim = ({ data }: ReclaimTask, task: Task): TaskEvent[] => {
  if (task.status === 'pending') return lease({ type: 'LeaseTask', data: { workerId: data.workerId } }, task);
  if (task.status !== 'active' || task.workerId === null) {
    throw new DomainError('IllegalTransition', `cannot reclaim a ${task.status} task`);
  }
  const expired: TaskEvent = {
    type: 'lease_expired',
    data: { attempt: task.attempts, workerId: task.workerId, reclaimedBy: data.workerId },
  };
  if (task.attempts > data.retry.maxRetries) {
    return [expired, { type: 'failed', data: { attempt: task.attempts, reason: 'attempts exhausted' } }];
  }
  return [expired, { type: 'leased', data: { attempt: task.attempts + 1, workerId: data.workerId } }];
};

const cancel = ({ data }: CancelTask, task: Task): TaskEvent[] => {
  if (task.status === 'new') throw new DomainError('NotFound', `task ${task.id} not found`);
  if (TERMINAL_STATUSES.has(task.status)) {
    throw new DomainError('IllegalTransition', `task is already ${task.status}`);
  }
  if (task.status === 'active') {
    throw new DomainError('IllegalTransition', 'task is being delivered right now; it cannot be cancelled');
  }
  return [{ type: 'cancelled', data: { by: data.by } }];
};

/** Only a finished task leaves Redis; anything still in flight is kept whatever its age. */
const expunge = ({ data }: ExpungeTask, task: Task): TaskEvent[] => {
  if (task.status !== 'succeeded' && task.status !== 'failed' && task.status !== 'cancelled') {
    throw new DomainError('IllegalTransition', `cannot expunge a ${task.status} task; only finished tasks expire`);
  }
  return [{ type: 'expunged', data: { by: data.by, status: task.status, queue: task.queue, clientId: task.clientId } }];
};
