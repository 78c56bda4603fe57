import type { RetryPolicy } from '../retry/backoff.ts';

/** A queue is an entity with its own configuration, so per-queue settings need no change of shape. */
export type QueueConfig = Readonly<{
  name: string;
  weight: number;
  retry: RetryPolicy;
  attemptTimeoutMs: number;
}>;

export const DEFAULT_QUEUE = 'default';

/** The seed's three priorities, weighted 6/3/1, all with the same retry policy and deadline. */
export const defaultQueues = (retry: RetryPolicy, attemptTimeoutMs: number): QueueConfig[] =>
  [
    { name: 'critical', weight: 6 },
    { name: 'default', weight: 3 },
    { name: 'low', weight: 1 },
  ].map((q) => ({ ...q, retry, attemptTimeoutMs }));
