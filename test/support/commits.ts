import { expect } from 'vitest';
import { commitFor, type TaskCommit } from '../../src/adapters/redis/placement.ts';
import type { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import type { TaskCommand } from '../../src/domain/task/commands.ts';
import { decide } from '../../src/domain/task/decide.ts';
import { type Recorded, record } from '../../src/domain/task/events.ts';
import { evolve } from '../../src/domain/task/evolve.ts';
import { type HttpRequestSpec, initialTask, type Task } from '../../src/domain/task/task.ts';
import { T0 } from './store.ts';

export const REQUEST: HttpRequestSpec = {
  url: 'http://sink.test/hook',
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"n":1}',
};

/** With random 0.5 the jitter cancels out: the first retry waits exactly minBackoffMs. */
export const RETRY: RetryPolicy = { maxRetries: 3, minBackoffMs: 1_000, maxBackoffMs: 60_000 };

export type Decided = Readonly<{ events: Recorded[]; after: Task; commit: TaskCommit }>;

/** Decides `command` on `task` at `now` and builds the commit a caller of the store would send. */
export const decided = (
  task: Task,
  command: TaskCommand,
  now: number,
  opts: { entryId?: string; entryClient?: string; request?: HttpRequestSpec } = {},
): Decided => {
  const events = record(task.id, task.version, now, decide(command, task, now));
  return { events, after: events.reduce(evolve, task), commit: commitFor(task, events, opts) };
};

export type EnqueueOptions = {
  queue?: string;
  delayMs?: number;
  at?: number;
  request?: HttpRequestSpec;
  clientId?: string;
};

export const enqueueDecided = (taskId: string, o: EnqueueOptions = {}): Decided =>
  decided(
    initialTask(taskId),
    {
      type: 'EnqueueTask',
      data: { queue: o.queue ?? 'default', clientId: o.clientId ?? 'client-1', delayMs: o.delayMs ?? 0 },
    },
    o.at ?? T0,
    { request: o.request ?? REQUEST },
  );

/** Enqueues through the commit script and checks it applied. */
export const enqueue = async (store: RedisTaskStore, taskId: string, o: EnqueueOptions = {}): Promise<Decided> => {
  const d = enqueueDecided(taskId, o);
  expect(await store.commit([d.commit])).toEqual([{ kind: 'ok' }]);
  return d;
};

export const leaseCommand = (workerId: string): TaskCommand => ({ type: 'LeaseTask', data: { workerId } });

export const attemptCommand = (task: Task, status: number | null, random = 0.5): TaskCommand => ({
  type: 'RecordAttempt',
  data: {
    workerId: task.workerId ?? '',
    attempt: task.attempts,
    response: { status, latencyMs: 12, error: status === null ? 'connection refused' : null },
    retry: RETRY,
    random,
  },
});

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
