import { describe, expect, test } from 'vitest';
import { commitFor } from '../../../src/adapters/redis/placement.ts';
import { record } from '../../../src/domain/task/events.ts';
import type { TaskStatus } from '../../../src/domain/task/task.ts';
import {
  attempted,
  cancelled,
  defer,
  deferred,
  enqueued,
  given,
  histories,
  lease,
  leased,
  recordAttempt,
  releaseDue,
  released,
  response,
  retryScheduled,
  stateAfter,
  T0,
  TASK_ID,
} from '../../support/given.ts';

const LATER = T0 + 30_000;

describe('DeferTask', () => {
  test('a pending task is deferred: scheduled until the due time, no attempt used', () =>
    given(enqueued())
      .when(defer(LATER))
      .then([deferred(LATER)], { status: 'scheduled', dueAt: LATER, attempts: 0, workerId: null, version: 2 }));

  test('a task that failed before keeps its attempts and its last response when deferred', () =>
    given(...histories.retrying(T0 + 1_000), released('retrying'))
      .when(defer(LATER, 'breaker probing'))
      .then([deferred(LATER, 'breaker probing')], {
        status: 'scheduled',
        attempts: 1,
        lastResponse: response(503),
        dueAt: LATER,
      }));

  test('a deferred task is released when due and then leased for its next attempt, not a later one', () => {
    given(enqueued(), deferred(LATER))
      .when(releaseDue(), LATER - 1)
      .then([]);
    given(enqueued(), deferred(LATER))
      .when(releaseDue(), LATER)
      .then([released('scheduled')], { status: 'pending', dueAt: null });
    given(enqueued(), deferred(LATER), released('scheduled'))
      .when(lease())
      .then([leased(1)], { attempts: 1 });
  });

  test('a task deferred again and again still gets all its attempts', () =>
    given(enqueued(), deferred(LATER), released('scheduled'), deferred(LATER + 1), released('scheduled'), leased(1))
      .when(recordAttempt(1, response(500), { retry: { maxRetries: 1, minBackoffMs: 1_000, maxBackoffMs: 1_000 } }))
      .then([attempted(1, response(500)), retryScheduled(2, T0 + 1_000, 1_000)]));

  test('a cancelled task left in a ready stream produces nothing, so its entry is dropped', () =>
    given(enqueued(), cancelled()).when(defer(LATER)).then([]));

  test.each(['scheduled', 'active', 'retrying', 'succeeded', 'failed'] as const)(
    'a %s task cannot be deferred',
    (status: Extract<TaskStatus, keyof typeof histories>) =>
      given(...histories[status]())
        .when(defer(LATER))
        .thenRejects('IllegalTransition'),
  );
});

describe('placement of a deferred task', () => {
  test('its ready entry is acknowledged and it moves to the due set at its due time', () => {
    const events = record(TASK_ID, 1, T0, [deferred(LATER)]);
    const commit = commitFor(stateAfter(enqueued()), events, { entryId: '1-0', queue: 'default' });
    expect(commit).toMatchObject({ ack: true, ready: false, due: LATER, expected: 1 });
  });
});
