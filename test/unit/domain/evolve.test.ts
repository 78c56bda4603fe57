import { describe, expect, test } from 'vitest';
import type { Recorded, TaskEvent } from '../../../src/domain/task/events.ts';
import { EVENT_SCHEMA_VERSION, record } from '../../../src/domain/task/events.ts';
import { evolve, fold } from '../../../src/domain/task/evolve.ts';
import { initialTask } from '../../../src/domain/task/task.ts';
import {
  attempted,
  cancelled,
  enqueued,
  failed,
  histories,
  leased,
  leaseExpired,
  networkError,
  OTHER_WORKER,
  released,
  response,
  retryScheduled,
  scheduled,
  stateAfter,
  succeeded,
  T0,
  TASK_ID,
  WORKER,
} from '../../support/given.ts';

/** Stamps each event at its own time, one second apart from T0. */
const timeline = (events: readonly TaskEvent[]): Recorded[] =>
  events.flatMap((e, i) => record(TASK_ID, i, T0 + i * 1_000, [e]));

describe('status after each event', () => {
  test.each([
    ['enqueued', [enqueued()], 'pending'],
    ['scheduled', [enqueued(), scheduled(T0 + 5_000)], 'scheduled'],
    ['released from scheduled', [enqueued(), scheduled(T0), released('scheduled')], 'pending'],
    ['leased', [enqueued(), leased(1)], 'active'],
    ['attempted (stays active until the outcome)', [enqueued(), leased(1), attempted(1, response(200))], 'active'],
    ['succeeded', histories.succeeded(), 'succeeded'],
    ['retry_scheduled', histories.retrying(), 'retrying'],
    ['released from retrying', [...histories.retrying(), released('retrying')], 'pending'],
    ['failed', histories.failed(), 'failed'],
    ['lease_expired (stays active until re-leased)', [enqueued(), leased(1), leaseExpired(1)], 'active'],
    ['cancelled', histories.cancelled(), 'cancelled'],
  ])('%s', (_, history: TaskEvent[], status) => {
    expect(stateAfter(...history).status).toBe(status);
  });

  test('a task with no events is new', () => expect(fold(TASK_ID, []).status).toBe('new'));
});

describe('task fields', () => {
  test('enqueued sets queue, client, schedule time and creation time', () => {
    const task = fold(
      TASK_ID,
      record(TASK_ID, 0, T0 + 7, [enqueued({ queue: 'low', clientId: 'svc', scheduleTime: T0 + 9 })]),
    );
    expect(task).toStrictEqual({
      ...initialTask(TASK_ID),
      status: 'pending',
      version: 1,
      queue: 'low',
      clientId: 'svc',
      scheduleTime: T0 + 9,
      createdAt: T0 + 7,
      updatedAt: T0 + 7,
    });
  });

  test('scheduled sets the due time and release clears it', () => {
    expect(stateAfter(enqueued(), scheduled(T0 + 5_000)).dueAt).toBe(T0 + 5_000);
    expect(stateAfter(enqueued(), scheduled(T0 + 5_000), released('scheduled')).dueAt).toBeNull();
  });

  test('a lease sets the attempt count and the holder; the outcome clears the holder', () => {
    const active = stateAfter(enqueued(), leased(1, WORKER));
    expect([active.attempts, active.workerId]).toStrictEqual([1, WORKER]);
    const done = stateAfter(enqueued(), leased(1, WORKER), attempted(1, response(200)), succeeded(1));
    expect([done.attempts, done.workerId]).toStrictEqual([1, null]);
  });

  test('a retry keeps the attempt count, clears the holder and sets the due time', () => {
    const task = stateAfter(...histories.retrying(T0 + 2_000));
    expect([task.attempts, task.workerId, task.dueAt]).toStrictEqual([1, null, T0 + 2_000]);
  });

  test('failed records the reason and clears the holder', () => {
    const task = stateAfter(enqueued(), leased(1), attempted(1, response(500)), failed(1, 'attempts exhausted'));
    expect([task.failureReason, task.workerId]).toStrictEqual(['attempts exhausted', null]);
  });

  test('attempts count every lease, including one that expired with its worker', () => {
    const task = stateAfter(
      enqueued(),
      leased(1, WORKER),
      leaseExpired(1, WORKER, OTHER_WORKER),
      leased(2, OTHER_WORKER),
    );
    expect(task.attempts).toBe(2);
    expect(task.workerId).toBe(OTHER_WORKER);
  });

  test('lastResponse is the latest attempt response', () => {
    const task = stateAfter(
      enqueued(),
      leased(1),
      attempted(1, response(503)),
      retryScheduled(2, T0, 1_000),
      released('retrying'),
      leased(2),
      attempted(2, networkError('timeout')),
    );
    expect(task.lastResponse).toStrictEqual({ status: null, latencyMs: 42, error: 'timeout' });
  });

  test('an expired lease records an unknown outcome as the last response', () => {
    const task = stateAfter(enqueued(), leased(1), attempted(1, response(404)), leaseExpired(1));
    expect(task.lastResponse).toStrictEqual({ status: null, latencyMs: 0, error: 'lease expired' });
  });

  test('cancelling a scheduled task clears its due time', () => {
    const task = stateAfter(...histories.scheduled(T0 + 5_000), cancelled('api'));
    expect([task.status, task.dueAt]).toStrictEqual(['cancelled', null]);
  });
});

describe('executions count responses other than 5xx, as Cloud Tasks does', () => {
  test.each([
    [200, 1],
    [204, 1],
    [302, 1],
    [404, 1],
    [429, 1],
    [499, 1],
    [500, 0],
    [503, 0],
    [599, 0],
  ])('a %i response adds %i', (status, executions) => {
    expect(stateAfter(enqueued(), leased(1), attempted(1, response(status))).executions).toBe(executions);
  });

  test('a network error does not count as an execution', () => {
    expect(stateAfter(enqueued(), leased(1), attempted(1, networkError())).executions).toBe(0);
  });

  test('an expired lease does not count as an execution', () => {
    expect(stateAfter(enqueued(), leased(1), leaseExpired(1)).executions).toBe(0);
  });

  test('executions add up over attempts: 503, 404, 503, 200 makes two', () => {
    const history: TaskEvent[] = [enqueued()];
    [503, 404, 503].forEach((status, i) => {
      const attempt = i + 1;
      history.push(leased(attempt), attempted(attempt, response(status)));
      history.push(retryScheduled(attempt + 1, T0, 1_000), released('retrying'));
    });
    history.push(leased(4), attempted(4, response(200)), succeeded(4));
    const task = stateAfter(...history);
    expect([task.attempts, task.executions]).toStrictEqual([4, 2]);
  });
});

describe('versions and times', () => {
  test('each event sets the version and the update time it was recorded with', () => {
    const events = timeline([enqueued(), leased(1), attempted(1, response(200)), succeeded(1)]);
    const states = events.map((_, i) => fold(TASK_ID, events.slice(0, i + 1)));
    expect(states.map((s) => s.version)).toStrictEqual([1, 2, 3, 4]);
    expect(states.map((s) => s.updatedAt)).toStrictEqual([T0, T0 + 1_000, T0 + 2_000, T0 + 3_000]);
    expect(states.map((s) => s.createdAt)).toStrictEqual([T0, T0, T0, T0]);
  });

  test('record stamps consecutive versions after the current one, the time and the schema', () => {
    expect(record(TASK_ID, 4, T0, [released('retrying'), leased(2)])).toStrictEqual([
      { ...released('retrying'), taskId: TASK_ID, version: 5, at: T0, schema: EVENT_SCHEMA_VERSION },
      { ...leased(2), taskId: TASK_ID, version: 6, at: T0, schema: EVENT_SCHEMA_VERSION },
    ]);
  });

  test('evolve returns a new task and leaves the old one unchanged', () => {
    const before = stateAfter(enqueued());
    const copy = structuredClone(before);
    const [event] = record(TASK_ID, 1, T0, [leased(1)]);
    const after = evolve(before, event as Recorded);
    expect(after).not.toBe(before);
    expect(before).toStrictEqual(copy);
    expect(after.status).toBe('active');
  });
});

test('folding a full history: delayed, 503, lease lost, 404, then 200', () => {
  const events = timeline([
    enqueued({ queue: 'critical', clientId: 'billing', scheduleTime: T0 + 60_000 }),
    scheduled(T0 + 60_000),
    released('scheduled'),
    leased(1, WORKER),
    attempted(1, response(503), WORKER),
    retryScheduled(2, T0 + 61_000, 1_000),
    released('retrying'),
    leased(2, WORKER),
    leaseExpired(2, WORKER, OTHER_WORKER),
    leased(3, OTHER_WORKER),
    attempted(3, response(404), OTHER_WORKER),
    retryScheduled(4, T0 + 70_000, 4_000),
    released('retrying'),
    leased(4, WORKER),
    attempted(4, { status: 200, latencyMs: 17, error: null }, WORKER),
    succeeded(4),
  ]);
  expect(fold(TASK_ID, events)).toStrictEqual({
    id: TASK_ID,
    status: 'succeeded',
    version: 16,
    queue: 'critical',
    clientId: 'billing',
    scheduleTime: T0 + 60_000,
    createdAt: T0,
    updatedAt: T0 + 15_000,
    attempts: 4,
    executions: 2,
    dueAt: null,
    workerId: null,
    lastResponse: { status: 200, latencyMs: 17, error: null },
    failureReason: null,
  });
});
