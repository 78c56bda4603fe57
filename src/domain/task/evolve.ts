import { countsAsExecution } from './classify.ts';
import { assertNever } from './errors.ts';
import type { Recorded } from './events.ts';
import { initialTask, type Task } from './task.ts';

/** Applies one recorded event. Total over event types; the current state is `events.reduce(evolve, initial)`. */
export const evolve = (task: Task, event: Recorded): Task => {
  const base = { ...task, version: event.version, updatedAt: event.at };
  switch (event.type) {
    case 'enqueued':
      return {
        ...base,
        status: 'pending',
        queue: event.data.queue,
        clientId: event.data.clientId,
        scheduleTime: event.data.scheduleTime,
        createdAt: event.at,
      };
    case 'scheduled':
      return { ...base, status: 'scheduled', dueAt: event.data.dueAt };
    case 'released':
      return { ...base, status: 'pending', dueAt: null };
    case 'leased':
      return { ...base, status: 'active', attempts: event.data.attempt, workerId: event.data.workerId };
    case 'attempted': {
      const { status, latencyMs, error } = event.data;
      const response = { status, latencyMs, error };
      return {
        ...base,
        lastResponse: response,
        executions: task.executions + (countsAsExecution(response) ? 1 : 0),
      };
    }
    case 'succeeded':
      return { ...base, status: 'succeeded', workerId: null };
    case 'retry_scheduled':
      return { ...base, status: 'retrying', workerId: null, dueAt: event.data.dueAt };
    case 'failed':
      return { ...base, status: 'failed', workerId: null, failureReason: event.data.reason };
    case 'lease_expired':
      return { ...base, workerId: null, lastResponse: { status: null, latencyMs: 0, error: 'lease expired' } };
    case 'cancelled':
      return { ...base, status: 'cancelled', dueAt: null };
    case 'expunged':
      return base;
    case 'deferred':
      return { ...base, status: 'scheduled', dueAt: event.data.dueAt };
    default:
      return assertNever(event);
  }
};

export const fold = (taskId: string, events: readonly Recorded[]): Task => events.reduce(evolve, initialTask(taskId));
