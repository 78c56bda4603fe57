import type { DeferTask } from './commands.ts';
import { DomainError } from './errors.ts';
import type { TaskEvent } from './events.ts';
import type { Task } from './task.ts';

/**
 * Only a ready task is turned away, before any lease: no attempt is used. Like a lease, a cancelled task's stale
 * ready entry produces nothing and is dropped.
 */
export const defer = ({ data }: DeferTask, task: Task): TaskEvent[] => {
  if (task.status === 'cancelled') return [];
  if (task.status !== 'pending') throw new DomainError('IllegalTransition', `cannot defer a ${task.status} task`);
  return [{ type: 'deferred', data: { host: data.host, reason: data.reason, dueAt: data.dueAt } }];
};
