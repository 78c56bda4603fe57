import { expect, test } from 'vitest';
import { eventView, taskView } from '../../../src/api/views.ts';
import { record } from '../../../src/domain/task/events.ts';
import { fold } from '../../../src/domain/task/evolve.ts';
import { deferred, enqueued, HOST, T0, TASK_ID } from '../../support/given.ts';

test('a deferred event shows its host, its reason and when the task is due again, as RFC 3339', () => {
  const [, event] = record(TASK_ID, 0, T0, [enqueued(), deferred(T0 + 31_500)]);
  expect(eventView(event as Parameters<typeof eventView>[0])).toStrictEqual({
    type: 'deferred',
    at: '2025-01-01T00:00:00.000Z',
    version: 2,
    data: { host: HOST, reason: 'breaker open', due_at: '2025-01-01T00:00:31.500Z' },
  });
});

test('a deferred task is listed as scheduled, with no attempt used', () => {
  const task = fold(TASK_ID, record(TASK_ID, 0, T0, [enqueued(), deferred(T0 + 31_500)]));
  expect(taskView(task)).toMatchObject({ status: 'scheduled', attempts: 0, last_response: null });
});
