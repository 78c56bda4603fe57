import type { RetryPolicy } from '../retry/backoff.ts';
import type { DeferReason } from './events.ts';
import type { AttemptResponse } from './task.ts';

type Cmd<T extends string, D> = Readonly<{ type: T; data: Readonly<D> }>;

export type EnqueueTask = Cmd<'EnqueueTask', { queue: string; clientId: string; delayMs: number }>;
export type ReleaseDue = Cmd<'ReleaseDue', Record<string, never>>;
export type LeaseTask = Cmd<'LeaseTask', { workerId: string }>;
export type RecordAttempt = Cmd<
  'RecordAttempt',
  { workerId: string; attempt: number; response: AttemptResponse; retry: RetryPolicy; random: number }
>;
/** A worker took over a lease that expired with its holder. */
export type ReclaimTask = Cmd<'ReclaimTask', { workerId: string; retry: RetryPolicy }>;
export type CancelTask = Cmd<'CancelTask', { by: string }>;

/** Retention removes a finished task from Redis; the event keeps the facts the read side needs to forget it. */
export type ExpungeTask = Cmd<'ExpungeTask', { by: string }>;

/** A worker turns a ready task away without attempting it (its host's breaker is open), until `dueAt`. */
export type DeferTask = Cmd<'DeferTask', { host: string; reason: DeferReason; dueAt: number }>;

export type TaskCommand =
  | EnqueueTask
  | ReleaseDue
  | LeaseTask
  | RecordAttempt
  | ReclaimTask
  | CancelTask
  | ExpungeTask
  | DeferTask;
