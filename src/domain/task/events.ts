import type { TaskStatus } from './task.ts';

type Ev<T extends string, D> = Readonly<{ type: T; data: Readonly<D> }>;

export type TaskEnqueued = Ev<'enqueued', { queue: string; clientId: string; scheduleTime: number }>;
export type TaskScheduled = Ev<'scheduled', { dueAt: number }>;
export type TaskReleased = Ev<'released', { from: Extract<TaskStatus, 'scheduled' | 'retrying'> }>;
export type TaskLeased = Ev<'leased', { attempt: number; workerId: string }>;
export type TaskAttempted = Ev<
  'attempted',
  {
    attempt: number;
    workerId: string;
    status: number | null;
    latencyMs: number;
    error: string | null;
    /** Added in issue 4 (optional, so older events read as before): see AttemptResponse. */
    permanent?: true;
    retryAfterMs?: number;
  }
>;
export type TaskSucceeded = Ev<'succeeded', { attempt: number }>;
export type TaskRetryScheduled = Ev<'retry_scheduled', { attempt: number; dueAt: number; backoffMs: number }>;
export type TaskFailed = Ev<'failed', { attempt: number; reason: string }>;
export type TaskLeaseExpired = Ev<'lease_expired', { attempt: number; workerId: string; reclaimedBy: string }>;
export type TaskCancelled = Ev<'cancelled', { by: string }>;
/** Not attempted: its host's circuit breaker turned it away; it waits in the due set, its attempts untouched. */
export type TaskDeferred = Ev<'deferred', { host: string; reason: DeferReason; dueAt: number }>;
/** `breaker open`: the host failed too often; `breaker probing`: half-open, and its probe calls are all out. */
export type DeferReason = 'breaker open' | 'breaker probing';
/** The task left Redis (retention). Carries where it was, so projections can drop it without a lookup. */
export type TaskExpunged = Ev<
  'expunged',
  { by: string; status: 'succeeded' | 'failed' | 'cancelled'; queue: string; clientId: string }
>;

export type TaskEvent =
  | TaskEnqueued
  | TaskScheduled
  | TaskReleased
  | TaskLeased
  | TaskAttempted
  | TaskSucceeded
  | TaskRetryScheduled
  | TaskFailed
  | TaskLeaseExpired
  | TaskCancelled
  | TaskExpunged
  | TaskDeferred;

export type TaskEventType = TaskEvent['type'];

/** Bumped when an event's data changes shape; the codec upcasts older ones. */
export const EVENT_SCHEMA_VERSION = 1;

export type Recorded<E extends TaskEvent = TaskEvent> = E &
  Readonly<{ taskId: string; version: number; at: number; schema: number }>;

/** Stamps decided events with the task id, consecutive versions after `fromVersion`, and the time. */
export const record = (taskId: string, fromVersion: number, at: number, events: readonly TaskEvent[]): Recorded[] =>
  events.map((e, i) => ({ ...e, taskId, version: fromVersion + i + 1, at, schema: EVENT_SCHEMA_VERSION }));
