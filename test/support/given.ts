import { expect } from 'vitest';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import type {
  CancelTask,
  DeferTask,
  EnqueueTask,
  LeaseTask,
  ReclaimTask,
  RecordAttempt,
  ReleaseDue,
  TaskCommand,
} from '../../src/domain/task/commands.ts';
import { decide } from '../../src/domain/task/decide.ts';
import { DomainError, type DomainErrorCode } from '../../src/domain/task/errors.ts';
import type {
  Recorded,
  TaskAttempted,
  TaskCancelled,
  TaskDeferred,
  TaskEnqueued,
  TaskEvent,
  TaskFailed,
  TaskLeased,
  TaskLeaseExpired,
  TaskReleased,
  TaskRetryScheduled,
  TaskScheduled,
  TaskSucceeded,
} from '../../src/domain/task/events.ts';
import { record } from '../../src/domain/task/events.ts';
import { evolve } from '../../src/domain/task/evolve.ts';
import { type AttemptResponse, initialTask, type Task } from '../../src/domain/task/task.ts';

/** The frozen reference time of every unit test. */
export const T0 = Date.UTC(2025, 0, 1);
export const TASK_ID = '01941f29-7c00-7000-8000-000000000001';
export const WORKER = 'worker-a';
export const OTHER_WORKER = 'worker-b';
export const LATENCY_MS = 42;
/** The seed's MAX_RETRY=5 (six attempts), 1 s doubling to at most 1 h. */
export const RETRY: RetryPolicy = { maxRetries: 5, minBackoffMs: 1_000, maxBackoffMs: 3_600_000 };
/** A jitter draw of 0.5 gives exactly the nominal backoff. */
export const NO_JITTER = 0.5;

/** Stamps events as one task's history from version 1, all at `at`. */
export const recorded = (events: readonly TaskEvent[], at = T0): Recorded[] => record(TASK_ID, 0, at, events);

/** The task that a history leaves, folded from the initial state exactly as the store does. */
export const stateAfter = (...history: TaskEvent[]): Task => recorded(history).reduce(evolve, initialTask(TASK_ID));

/**
 * given(history).when(command, now).then(events) / .thenRejects(code): decide on the state the history leaves.
 * `then` optionally also checks fields of the state the decided events lead to.
 */
export const given = (...history: TaskEvent[]) => ({
  when: (command: TaskCommand, now = T0) => {
    const run = () => decide(command, stateAfter(...history), now);
    return {
      // biome-ignore lint/suspicious/noThenProperty: given/when/then reads best here; the object is never awaited
      then: (expected: TaskEvent[], leadsTo: Partial<Task> = {}): void => {
        const events = run();
        expect(events).toStrictEqual(expected);
        expect(stateAfter(...history, ...events)).toMatchObject(leadsTo);
      },
      thenRejects: (code: DomainErrorCode): void => {
        let outcome: unknown;
        try {
          outcome = { events: run() };
        } catch (error) {
          outcome = error;
        }
        expect(outcome).toBeInstanceOf(DomainError);
        expect((outcome as DomainError).code).toBe(code);
      },
    };
  },
});

export const response = (status: number | null, error: string | null = null): AttemptResponse => ({
  status,
  latencyMs: LATENCY_MS,
  error,
});
export const networkError = (error = 'connect ECONNREFUSED 127.0.0.1:9'): AttemptResponse => response(null, error);

// events

export const enqueued = (data: Partial<TaskEnqueued['data']> = {}): TaskEnqueued => ({
  type: 'enqueued',
  data: { queue: 'default', clientId: 'client-1', scheduleTime: T0, ...data },
});
export const scheduled = (dueAt: number): TaskScheduled => ({ type: 'scheduled', data: { dueAt } });
export const released = (from: TaskReleased['data']['from']): TaskReleased => ({ type: 'released', data: { from } });
export const leased = (attempt: number, workerId = WORKER): TaskLeased => ({
  type: 'leased',
  data: { attempt, workerId },
});
export const attempted = (attempt: number, res: AttemptResponse = response(200), workerId = WORKER): TaskAttempted => ({
  type: 'attempted',
  data: { attempt, workerId, ...res },
});
export const succeeded = (attempt: number): TaskSucceeded => ({ type: 'succeeded', data: { attempt } });
export const retryScheduled = (attempt: number, dueAt: number, backoffMs: number): TaskRetryScheduled => ({
  type: 'retry_scheduled',
  data: { attempt, dueAt, backoffMs },
});
export const failed = (attempt: number, reason = 'attempts exhausted'): TaskFailed => ({
  type: 'failed',
  data: { attempt, reason },
});
export const leaseExpired = (attempt: number, workerId = WORKER, reclaimedBy = OTHER_WORKER): TaskLeaseExpired => ({
  type: 'lease_expired',
  data: { attempt, workerId, reclaimedBy },
});
export const cancelled = (by = 'api'): TaskCancelled => ({ type: 'cancelled', data: { by } });
export const HOST = '127.0.0.1:9000';
export const deferred = (dueAt: number, reason: TaskDeferred['data']['reason'] = 'breaker open'): TaskDeferred => ({
  type: 'deferred',
  data: { host: HOST, reason, dueAt },
});

// commands

export const enqueue = (data: Partial<EnqueueTask['data']> = {}): EnqueueTask => ({
  type: 'EnqueueTask',
  data: { queue: 'default', clientId: 'client-1', delayMs: 0, ...data },
});
export const releaseDue = (): ReleaseDue => ({ type: 'ReleaseDue', data: {} });
export const lease = (workerId = WORKER): LeaseTask => ({ type: 'LeaseTask', data: { workerId } });
export const recordAttempt = (
  attempt: number,
  res: AttemptResponse,
  data: Partial<RecordAttempt['data']> = {},
): RecordAttempt => ({
  type: 'RecordAttempt',
  data: { workerId: WORKER, attempt, response: res, retry: RETRY, random: NO_JITTER, ...data },
});
export const reclaim = (workerId = OTHER_WORKER, retry = RETRY): ReclaimTask => ({
  type: 'ReclaimTask',
  data: { workerId, retry },
});
export const cancel = (by = 'api'): CancelTask => ({ type: 'CancelTask', data: { by } });
export const defer = (dueAt: number, reason: DeferTask['data']['reason'] = 'breaker open'): DeferTask => ({
  type: 'DeferTask',
  data: { host: HOST, reason, dueAt },
});

// histories that leave a task in each status

export const histories = {
  pending: (): TaskEvent[] => [enqueued()],
  scheduled: (dueAt = T0 + 60_000): TaskEvent[] => [enqueued({ scheduleTime: dueAt }), scheduled(dueAt)],
  active: (attempt = 1, workerId = WORKER): TaskEvent[] => {
    const history: TaskEvent[] = [enqueued()];
    for (let a = 1; a < attempt; a++) {
      history.push(leased(a, workerId), attempted(a, response(503), workerId), retryScheduled(a + 1, T0, 1_000));
      history.push(released('retrying'));
    }
    history.push(leased(attempt, workerId));
    return history;
  },
  retrying: (dueAt = T0 + 1_000): TaskEvent[] => [
    enqueued(),
    leased(1),
    attempted(1, response(503)),
    retryScheduled(2, dueAt, dueAt - T0),
  ],
  succeeded: (): TaskEvent[] => [enqueued(), leased(1), attempted(1, response(200)), succeeded(1)],
  failed: (): TaskEvent[] => [...histories.active(6), attempted(6, response(500)), failed(6)],
  cancelled: (): TaskEvent[] => [enqueued(), cancelled()],
};

/** A small seeded PRNG (mulberry32): the same seed gives the same draws in [0, 1), so statistical tests are stable. */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** One event of every type, so a type a codec mishandles shows up by name. */
export const EVERY_EVENT_TYPE: readonly TaskEvent[] = [
  enqueued({ queue: 'critical', clientId: 'billing', scheduleTime: T0 + 60_000 }),
  scheduled(T0 + 60_000),
  released('scheduled'),
  leased(1, 'worker-a'),
  attempted(1, networkError('connect ECONNREFUSED "quoted"\nsecond line'), 'worker-a'),
  retryScheduled(2, T0 + 61_000, 1_000),
  released('retrying'),
  leased(2, 'worker-a'),
  leaseExpired(2, 'worker-a', 'worker-b'),
  leased(3, 'worker-b'),
  attempted(3, response(200), 'worker-b'),
  succeeded(3),
  failed(3, 'attempts exhausted'),
  cancelled('api'),
  { type: 'expunged', data: { by: 'retention', status: 'succeeded', queue: 'critical', clientId: 'billing' } },
  deferred(T0 + 90_000, 'breaker probing'),
];
