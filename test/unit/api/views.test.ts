import { describe, expect, test } from 'vitest';
import { eventView, taskView } from '../../../src/api/views.ts';
import { record, type TaskEvent } from '../../../src/domain/task/events.ts';
import { fold } from '../../../src/domain/task/evolve.ts';
import {
  attempted,
  cancelled,
  enqueued,
  failed,
  leased,
  leaseExpired,
  networkError,
  OTHER_WORKER,
  released,
  response,
  retryScheduled,
  scheduled,
  succeeded,
  T0,
  TASK_ID,
  WORKER,
} from '../../support/given.ts';

const ISO_T0 = '2025-01-01T00:00:00.000Z';
const view = (event: TaskEvent, version = 3, at = T0 + 1_500) => {
  const [recorded] = record(TASK_ID, version - 1, at, [event]);
  if (!recorded) throw new Error('record returned nothing');
  return eventView(recorded);
};

describe('taskView', () => {
  test('shows a task in snake_case with RFC 3339 times', () => {
    const events = [
      ...record(TASK_ID, 0, T0, [enqueued({ queue: 'low', clientId: 'billing', scheduleTime: T0 + 60_000 })]),
      ...record(TASK_ID, 1, T0, [scheduled(T0 + 60_000)]),
      ...record(TASK_ID, 2, T0 + 60_250, [released('scheduled'), leased(1)]),
      ...record(TASK_ID, 4, T0 + 61_000, [attempted(1, response(503)), retryScheduled(2, T0 + 62_000, 1_000)]),
    ];
    expect(taskView(fold(TASK_ID, events))).toStrictEqual({
      task_id: TASK_ID,
      status: 'retrying',
      queue: 'low',
      client_id: 'billing',
      attempts: 1,
      schedule_time: '2025-01-01T00:01:00.000Z',
      created_at: ISO_T0,
      updated_at: '2025-01-01T00:01:01.000Z',
      last_response: { status: 503, latency_ms: 42, error: null },
    });
  });

  test('shows no last response before the first attempt', () => {
    const task = fold(TASK_ID, record(TASK_ID, 0, T0, [enqueued()]));
    expect(taskView(task).last_response).toBeNull();
    expect(taskView(task).status).toBe('pending');
  });

  test('shows a network error as a null status with its message', () => {
    const task = fold(TASK_ID, record(TASK_ID, 0, T0, [enqueued(), leased(1), attempted(1, networkError('timeout'))]));
    expect(taskView(task).last_response).toStrictEqual({ status: null, latency_ms: 42, error: 'timeout' });
  });
});

describe('eventView', () => {
  test('shows the type, the version and the time in RFC 3339', () => {
    expect(view(succeeded(2), 9, T0 + 1_500)).toStrictEqual({
      type: 'succeeded',
      at: '2025-01-01T00:00:01.500Z',
      version: 9,
      data: { attempt: 2 },
    });
  });

  test('enqueued: client_id in snake_case and schedule_time in RFC 3339', () => {
    expect(view(enqueued({ queue: 'critical', clientId: 'billing', scheduleTime: T0 + 90_000 })).data).toStrictEqual({
      queue: 'critical',
      client_id: 'billing',
      schedule_time: '2025-01-01T00:01:30.000Z',
    });
  });

  test('scheduled: due_at in RFC 3339', () => {
    expect(view(scheduled(T0 + 3_600_000)).data).toStrictEqual({ due_at: '2025-01-01T01:00:00.000Z' });
  });

  test('retry_scheduled: due_at in RFC 3339, backoff_ms stays a number', () => {
    expect(view(retryScheduled(3, T0 + 4_000, 4_000)).data).toStrictEqual({
      attempt: 3,
      due_at: '2025-01-01T00:00:04.000Z',
      backoff_ms: 4_000,
    });
  });

  test('attempted: worker_id and latency_ms in snake_case, a null status kept', () => {
    expect(view(attempted(2, networkError('socket hang up'), WORKER)).data).toStrictEqual({
      attempt: 2,
      worker_id: WORKER,
      status: null,
      latency_ms: 42,
      error: 'socket hang up',
    });
  });

  test('lease_expired: worker_id and reclaimed_by in snake_case', () => {
    expect(view(leaseExpired(1, WORKER, OTHER_WORKER)).data).toStrictEqual({
      attempt: 1,
      worker_id: WORKER,
      reclaimed_by: OTHER_WORKER,
    });
  });

  test.each([
    [released('retrying'), { from: 'retrying' }],
    [leased(4, WORKER), { attempt: 4, worker_id: WORKER }],
    [failed(6, 'attempts exhausted'), { attempt: 6, reason: 'attempts exhausted' }],
    [cancelled('api'), { by: 'api' }],
  ])('%o keeps its data under snake_case names', (event, data) => {
    expect(view(event).data).toStrictEqual(data);
  });
});
