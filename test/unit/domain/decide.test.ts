import { describe, expect, test } from 'vitest';
import { decide } from '../../../src/domain/task/decide.ts';
import type { TaskEvent } from '../../../src/domain/task/events.ts';
import {
  attempted,
  cancel,
  cancelled,
  enqueue,
  enqueued,
  failed,
  given,
  histories,
  lease,
  leased,
  leaseExpired,
  networkError,
  OTHER_WORKER,
  RETRY,
  reclaim,
  recordAttempt,
  releaseDue,
  released,
  response,
  retryScheduled,
  scheduled,
  stateAfter,
  succeeded,
  T0,
  WORKER,
} from '../../support/given.ts';

const MINUTE = 60_000;

describe('EnqueueTask', () => {
  test('an immediate task is enqueued, due now, and becomes pending', () => {
    given()
      .when(enqueue({ queue: 'critical', clientId: 'billing', delayMs: 0 }), T0)
      .then([enqueued({ queue: 'critical', clientId: 'billing', scheduleTime: T0 })], {
        status: 'pending',
        dueAt: null,
      });
  });

  test('a delayed task is enqueued and scheduled for now + delay', () => {
    given()
      .when(enqueue({ delayMs: 90_000 }), T0)
      .then([enqueued({ scheduleTime: T0 + 90_000 }), scheduled(T0 + 90_000)], {
        status: 'scheduled',
        dueAt: T0 + 90_000,
        scheduleTime: T0 + 90_000,
      });
  });

  test('enqueueing a task id that already exists is rejected', () =>
    given(enqueued()).when(enqueue()).thenRejects('AlreadyExists'));

  test('enqueueing the id of a finished task is rejected too', () =>
    given(...histories.succeeded())
      .when(enqueue())
      .thenRejects('AlreadyExists'));
});

describe('ReleaseDue', () => {
  test('releases a scheduled task at exactly its due time', () => {
    given(...histories.scheduled(T0 + MINUTE))
      .when(releaseDue(), T0 + MINUTE)
      .then([released('scheduled')], { status: 'pending', dueAt: null });
  });

  test('releases a scheduled task that is overdue', () =>
    given(...histories.scheduled(T0 + MINUTE))
      .when(releaseDue(), T0 + 10 * MINUTE)
      .then([released('scheduled')]));

  test('does nothing for a scheduled task one millisecond before it is due', () =>
    given(...histories.scheduled(T0 + MINUTE))
      .when(releaseDue(), T0 + MINUTE - 1)
      .then([]));

  test('releases a retrying task whose backoff has passed', () =>
    given(...histories.retrying(T0 + 1_000))
      .when(releaseDue(), T0 + 1_000)
      .then([released('retrying')]));

  test('does nothing for a retrying task still in its backoff', () =>
    given(...histories.retrying(T0 + 1_000))
      .when(releaseDue(), T0 + 999)
      .then([]));

  test('does nothing for a task another promoter already released', () =>
    given(...histories.scheduled(T0), released('scheduled'))
      .when(releaseDue(), T0 + MINUTE)
      .then([]));

  test.each([
    ['active', histories.active()],
    ['succeeded', histories.succeeded()],
    ['cancelled', [...histories.scheduled(T0), cancelled()]],
    ['new', []],
  ])('does nothing for a %s task', (_, history: TaskEvent[]) =>
    given(...history)
      .when(releaseDue(), T0 + MINUTE)
      .then([]),
  );
});

describe('LeaseTask', () => {
  test('leases a pending task as its first attempt', () => {
    given(enqueued())
      .when(lease(WORKER))
      .then([leased(1, WORKER)], { status: 'active', workerId: WORKER, attempts: 1 });
  });

  test('the attempt number of a lease is one more than the attempts so far', () =>
    given(...histories.retrying(T0), released('retrying'))
      .when(lease(OTHER_WORKER))
      .then([leased(2, OTHER_WORKER)]));

  test('leasing a cancelled task produces nothing, so its stale entry is just dropped', () =>
    given(...histories.cancelled())
      .when(lease())
      .then([]));

  test.each([
    ['new', []],
    ['scheduled', histories.scheduled()],
    ['active', histories.active()],
    ['retrying', histories.retrying()],
    ['succeeded', histories.succeeded()],
    ['failed', histories.failed()],
  ])('leasing a %s task is an illegal transition', (_, history: TaskEvent[]) =>
    given(...history)
      .when(lease())
      .thenRejects('IllegalTransition'),
  );
});

describe('RecordAttempt', () => {
  test.each([200, 201, 204, 299])('a %i response succeeds the task', (status) => {
    given(...histories.active(1))
      .when(recordAttempt(1, response(status)), T0 + 5_000)
      .then([attempted(1, response(status)), succeeded(1)], { status: 'succeeded', workerId: null });
  });

  test('a 500 schedules a retry at now + the first backoff', () => {
    given(...histories.active(1))
      .when(recordAttempt(1, response(500)), T0 + 5_000)
      .then([attempted(1, response(500)), retryScheduled(2, T0 + 5_000 + 1_000, 1_000)], {
        status: 'retrying',
        dueAt: T0 + 6_000,
        workerId: null,
      });
  });

  test('a network error (no status) schedules a retry', () =>
    given(...histories.active(1))
      .when(recordAttempt(1, networkError('socket hang up')), T0 + 5_000)
      .then([attempted(1, networkError('socket hang up')), retryScheduled(2, T0 + 6_000, 1_000)]));

  test.each([301, 404, 429])('a %i is a failed attempt and is retried like a 5xx', (status) =>
    given(...histories.active(1))
      .when(recordAttempt(1, response(status)), T0)
      .then([attempted(1, response(status)), retryScheduled(2, T0 + 1_000, 1_000)]),
  );

  test('the backoff doubles with each attempt: the third failure waits 4 s', () =>
    given(...histories.active(3))
      .when(recordAttempt(3, response(503)), T0)
      .then([attempted(3, response(503)), retryScheduled(4, T0 + 4_000, 4_000)]));

  test('the jitter draw moves the backoff: random 0 gives 80% of the nominal delay', () =>
    given(...histories.active(3))
      .when(recordAttempt(3, response(503), { random: 0 }), T0)
      .then([attempted(3, response(503)), retryScheduled(4, T0 + 3_200, 3_200)]));

  test('the fifth failure with MAX_RETRY=5 still schedules the sixth attempt', () =>
    given(...histories.active(5))
      .when(recordAttempt(5, response(500)), T0)
      .then([attempted(5, response(500)), retryScheduled(6, T0 + 16_000, 16_000)]));

  test('a failure on the last allowed attempt fails the task: attempts exhausted', () => {
    given(...histories.active(6))
      .when(recordAttempt(6, response(500)), T0)
      .then([attempted(6, response(500)), failed(6, 'attempts exhausted')], {
        status: 'failed',
        failureReason: 'attempts exhausted',
      });
  });

  test('with no retries allowed the first failure is final', () =>
    given(...histories.active(1))
      .when(recordAttempt(1, networkError(), { retry: { ...RETRY, maxRetries: 0 } }), T0)
      .then([attempted(1, networkError()), failed(1, 'attempts exhausted')]));

  test('a success on the last allowed attempt still succeeds', () =>
    given(...histories.active(6))
      .when(recordAttempt(6, response(200)), T0)
      .then([attempted(6, response(200)), succeeded(6)]));

  test('a result from a worker that does not hold the lease is rejected', () =>
    given(...histories.active(1, WORKER))
      .when(recordAttempt(1, response(200), { workerId: OTHER_WORKER }))
      .thenRejects('LeaseLost'));

  test('a result for another attempt than the current one is rejected', () =>
    given(...histories.active(2))
      .when(recordAttempt(1, response(200)))
      .thenRejects('LeaseLost'));

  test('a late result from a worker whose lease was reclaimed by another is rejected', () =>
    given(enqueued(), leased(1, WORKER), leaseExpired(1, WORKER, OTHER_WORKER), leased(2, OTHER_WORKER))
      .when(recordAttempt(1, response(200), { workerId: WORKER }))
      .thenRejects('LeaseLost'));

  test('a late result after the same worker re-leased the task is rejected by its attempt number', () =>
    given(enqueued(), leased(1, WORKER), leaseExpired(1, WORKER, WORKER), leased(2, WORKER))
      .when(recordAttempt(1, response(200), { workerId: WORKER }))
      .thenRejects('LeaseLost'));

  test.each([
    ['new', []],
    ['pending', histories.pending()],
    ['scheduled', histories.scheduled()],
    ['retrying', histories.retrying()],
    ['succeeded', histories.succeeded()],
    ['failed', histories.failed()],
    ['cancelled', histories.cancelled()],
  ])('a result for a %s task is rejected as a lost lease', (_, history: TaskEvent[]) =>
    given(...history)
      .when(recordAttempt(1, response(200)))
      .thenRejects('LeaseLost'),
  );
});

describe('ReclaimTask', () => {
  test('an expired lease is handed to the new worker as the next attempt', () => {
    given(...histories.active(1, WORKER))
      .when(reclaim(OTHER_WORKER))
      .then([leaseExpired(1, WORKER, OTHER_WORKER), leased(2, OTHER_WORKER)], {
        status: 'active',
        workerId: OTHER_WORKER,
        attempts: 2,
        lastResponse: { status: null, latencyMs: 0, error: 'lease expired' },
      });
  });

  test('an expired lease on the last allowed attempt fails the task', () => {
    given(...histories.active(6, WORKER))
      .when(reclaim(OTHER_WORKER))
      .then([leaseExpired(6, WORKER, OTHER_WORKER), failed(6, 'attempts exhausted')], {
        status: 'failed',
        workerId: null,
      });
  });

  test('an expired lease on the fifth attempt with MAX_RETRY=5 still hands over the sixth', () =>
    given(...histories.active(5, WORKER))
      .when(reclaim(OTHER_WORKER))
      .then([leaseExpired(5, WORKER, OTHER_WORKER), leased(6, OTHER_WORKER)]));

  test('an expired lease with no retries allowed fails the task', () =>
    given(...histories.active(1, WORKER))
      .when(reclaim(OTHER_WORKER, { ...RETRY, maxRetries: 0 }))
      .then([leaseExpired(1, WORKER, OTHER_WORKER), failed(1, 'attempts exhausted')]));

  test('a pending entry that was read but never leased is simply leased', () =>
    given(...histories.pending())
      .when(reclaim(OTHER_WORKER))
      .then([leased(1, OTHER_WORKER)]));

  test.each([
    ['new', []],
    ['scheduled', histories.scheduled()],
    ['retrying', histories.retrying()],
    ['succeeded', histories.succeeded()],
    ['failed', histories.failed()],
    ['cancelled', histories.cancelled()],
  ])('reclaiming a %s task is an illegal transition', (_, history: TaskEvent[]) =>
    given(...history)
      .when(reclaim())
      .thenRejects('IllegalTransition'),
  );
});

describe('CancelTask', () => {
  test.each([
    ['scheduled', histories.scheduled()],
    ['pending', histories.pending()],
    ['retrying', histories.retrying()],
  ])('a %s task is cancelled', (_, history: TaskEvent[]) => {
    given(...history)
      .when(cancel('api'))
      .then([cancelled('api')], { status: 'cancelled', dueAt: null });
  });

  test('a task being delivered right now cannot be cancelled', () =>
    given(...histories.active())
      .when(cancel())
      .thenRejects('IllegalTransition'));

  test.each([
    ['succeeded', histories.succeeded()],
    ['failed', histories.failed()],
    ['cancelled', histories.cancelled()],
  ])('a %s task cannot be cancelled', (_, history: TaskEvent[]) =>
    given(...history)
      .when(cancel())
      .thenRejects('IllegalTransition'),
  );

  test('cancelling a task that does not exist is not found', () => given().when(cancel()).thenRejects('NotFound'));
});

test('decide leaves the task it decides on unchanged', () => {
  const task = stateAfter(...histories.active(1));
  const before = structuredClone(task);
  decide(recordAttempt(1, response(500)), task, T0);
  decide(reclaim(), task, T0);
  expect(task).toStrictEqual(before);
});
