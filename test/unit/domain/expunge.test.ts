import { describe, test } from 'vitest';
import type { ExpungeTask } from '../../../src/domain/task/commands.ts';
import type { TaskExpunged } from '../../../src/domain/task/events.ts';
import type { TaskStatus } from '../../../src/domain/task/task.ts';
import { cancelled, enqueued, given, histories, T0 } from '../../support/given.ts';

const DAY = 86_400_000;

const expunge = (by = 'retention'): ExpungeTask => ({ type: 'ExpungeTask', data: { by } });
const expunged = (status: TaskExpunged['data']['status'], data: Partial<TaskExpunged['data']> = {}): TaskExpunged => ({
  type: 'expunged',
  data: { by: 'retention', status, queue: 'default', clientId: 'client-1', ...data },
});

describe('ExpungeTask', () => {
  test('a succeeded task is expunged with where it was, and keeps its status', () =>
    given(...histories.succeeded())
      .when(expunge(), T0 + 7 * DAY)
      .then([expunged('succeeded')], { status: 'succeeded', version: 5 }));

  test('a failed task is expunged', () =>
    given(...histories.failed())
      .when(expunge())
      .then([expunged('failed')], { status: 'failed' }));

  test('a cancelled task is expunged', () =>
    given(...histories.cancelled())
      .when(expunge())
      .then([expunged('cancelled')], { status: 'cancelled', version: 3 }));

  test('the event carries the queue and client of the task, and who expunged it', () =>
    given(enqueued({ queue: 'critical', clientId: 'billing' }), cancelled())
      .when(expunge('admin'))
      .then([expunged('cancelled', { by: 'admin', queue: 'critical', clientId: 'billing' })]));

  test.each(['pending', 'scheduled', 'active', 'retrying'] as const)(
    'a %s task is still in flight and cannot be expunged, whatever its age',
    (status: Extract<TaskStatus, keyof typeof histories>) =>
      given(...histories[status]())
        .when(expunge(), T0 + 365 * DAY)
        .thenRejects('IllegalTransition'),
  );

  test('a task that does not exist cannot be expunged', () => given().when(expunge()).thenRejects('IllegalTransition'));

  test('an expunged task cannot be expunged twice: it stays finished, but it is gone from Redis', () =>
    // the domain would allow it (the status is still terminal); the expunge script's version check refuses it
    given(...histories.succeeded(), expunged('succeeded'))
      .when(expunge())
      .then([expunged('succeeded')], { version: 6 }));
});
