import { describe, expect, test } from 'vitest';
import { classify } from '../../../src/domain/task/classify.ts';
import type { AttemptResponse } from '../../../src/domain/task/task.ts';
import {
  attempted,
  failed,
  given,
  histories,
  RETRY,
  recordAttempt,
  response,
  retryScheduled,
  T0,
} from '../../support/given.ts';

const BLOCKED = 'blocked destination: 127.0.0.2 is in a private range (loopback)';
const blocked: AttemptResponse = { status: null, latencyMs: 3, error: BLOCKED, permanent: true };
const throttled = (status: number, retryAfterMs: number): AttemptResponse => ({ ...response(status), retryAfterMs });

describe('RecordAttempt: a blocked destination', () => {
  test('is classified permanent', () => expect(classify(blocked)).toBe('permanent'));

  test('fails the task at once with the reason, even with retries left', () =>
    given(...histories.active(1))
      .when(recordAttempt(1, blocked), T0)
      .then([attempted(1, blocked), failed(1, BLOCKED)], {
        status: 'failed',
        failureReason: BLOCKED,
        attempts: 1,
        lastResponse: { status: null, latencyMs: 3, error: BLOCKED },
      }));
});

describe('RecordAttempt: Retry-After', () => {
  test('a 429 asking for longer than the backoff waits as long as it asks', () =>
    given(...histories.active(1))
      .when(recordAttempt(1, throttled(429, 7_000)), T0)
      .then([attempted(1, throttled(429, 7_000)), retryScheduled(2, T0 + 7_000, 7_000)], {
        status: 'retrying',
        dueAt: T0 + 7_000,
      }));

  test('a 503 asking for less than the backoff waits the backoff', () =>
    given(...histories.active(3))
      .when(recordAttempt(3, throttled(503, 1_500)), T0)
      .then([attempted(3, throttled(503, 1_500)), retryScheduled(4, T0 + 4_000, 4_000)]));

  test('the wait is capped at the queue max backoff', () =>
    given(...histories.active(1))
      .when(recordAttempt(1, throttled(429, 86_400_000), { retry: { ...RETRY, maxBackoffMs: 60_000 } }), T0)
      .then([attempted(1, throttled(429, 86_400_000)), retryScheduled(2, T0 + 60_000, 60_000)]));

  test('the throttled attempt still counts: on the last one the task fails', () =>
    given(...histories.active(6))
      .when(recordAttempt(6, throttled(429, 7_000)), T0)
      .then([attempted(6, throttled(429, 7_000)), failed(6)]));
});
