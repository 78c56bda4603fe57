import { describe, expect, test } from 'vitest';
import { commitFor } from '../../../src/adapters/redis/placement.ts';
import type { TaskCommand } from '../../../src/domain/task/commands.ts';
import { decide } from '../../../src/domain/task/decide.ts';
import { record, type TaskEvent } from '../../../src/domain/task/events.ts';
import type { HttpRequestSpec, Task } from '../../../src/domain/task/task.ts';
import { initialTask } from '../../../src/domain/task/task.ts';
import {
  cancel,
  enqueue,
  histories,
  lease,
  OTHER_WORKER,
  RETRY,
  reclaim,
  recordAttempt,
  releaseDue,
  response,
  stateAfter,
  T0,
  TASK_ID,
} from '../../support/given.ts';

const ENTRY = '1735689600000-0';
const REQUEST: HttpRequestSpec = { url: 'https://example.com/hook', method: 'POST', headers: {}, body: '{}' };

/** Decides `command` on the state `history` leaves and places the result, as the API and the loops do. */
const place = (
  history: TaskEvent[],
  command: TaskCommand,
  now = T0,
  opts: { entryId?: string; entryClient?: string; request?: HttpRequestSpec } = {},
) => {
  const before: Task = history.length === 0 ? initialTask(TASK_ID) : stateAfter(...history);
  const events = record(TASK_ID, before.version, now, decide(command, before, now));
  return { events, commit: commitFor(before, events, opts) };
};

describe('commitFor', () => {
  test('an immediate enqueue stores the request and adds the task to its ready stream', () => {
    const { events, commit } = place([], enqueue({ queue: 'critical' }), T0, { request: REQUEST });
    expect(commit).toStrictEqual({
      taskId: TASK_ID,
      queue: 'critical',
      expected: 0,
      events,
      request: REQUEST,
      entryId: null,
      entryClient: '',
      ack: false,
      ready: true,
      due: null,
      // tags the ready entry, so leasing holds the client to its tier's in-flight limit
      clientId: 'client-1',
    });
  });

  test('a delayed enqueue puts the task in the due set at its due time, not in a stream', () => {
    const { commit } = place([], enqueue({ delayMs: 30_000 }), T0, { request: REQUEST });
    expect(commit).toMatchObject({ queue: 'default', expected: 0, ready: false, due: T0 + 30_000, ack: false });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['enqueued', 'scheduled']);
  });

  test('releasing a scheduled task removes it from the due set and adds it to the ready stream', () => {
    const history = histories.scheduled(T0 + 5_000);
    const { commit } = place(history, releaseDue(), T0 + 5_000);
    expect(commit).toMatchObject({ expected: 2, ready: true, due: 'remove', ack: false, entryId: null, request: null });
  });

  test('releasing a retrying task removes it from the due set and adds it to the ready stream', () => {
    const { commit } = place(histories.retrying(T0 + 1_000), releaseDue(), T0 + 1_000);
    expect(commit).toMatchObject({ expected: 4, ready: true, due: 'remove', ack: false });
  });

  test('a lease fences on the entry the worker read and keeps it pending (no ack)', () => {
    const { commit } = place(histories.pending(), lease(), T0, { entryId: ENTRY });
    expect(commit).toMatchObject({ expected: 1, entryId: ENTRY, ack: false, ready: false, due: null });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['leased']);
  });

  test('a failed attempt acknowledges the entry and puts the task in the due set at its retry time', () => {
    const { commit } = place(histories.active(1), recordAttempt(1, response(503)), T0 + 2_000, { entryId: ENTRY });
    expect(commit).toMatchObject({ entryId: ENTRY, ack: true, ready: false, due: T0 + 3_000 });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['attempted', 'retry_scheduled']);
  });

  test('a successful attempt acknowledges the entry and puts the task nowhere', () => {
    const { commit } = place(histories.active(1), recordAttempt(1, response(200)), T0, { entryId: ENTRY });
    expect(commit).toMatchObject({ entryId: ENTRY, ack: true, ready: false, due: null });
  });

  test('a final failure acknowledges the entry and puts the task nowhere', () => {
    const { commit } = place(histories.active(6), recordAttempt(6, response(500)), T0, { entryId: ENTRY });
    expect(commit).toMatchObject({ entryId: ENTRY, ack: true, ready: false, due: null });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['attempted', 'failed']);
  });

  test('cancelling a scheduled task removes it from the due set', () => {
    const { commit } = place(histories.scheduled(), cancel());
    expect(commit).toMatchObject({ entryId: null, ack: false, ready: false, due: 'remove' });
  });

  test('cancelling a retrying task removes it from the due set', () => {
    const { commit } = place(histories.retrying(), cancel());
    expect(commit).toMatchObject({ ack: false, ready: false, due: 'remove' });
  });

  test('cancelling a pending task leaves its stream entry, to be dropped when leased', () => {
    const { commit } = place(histories.pending(), cancel());
    expect(commit).toMatchObject({ entryId: null, ack: false, ready: false, due: null });
  });

  test('leasing a cancelled task records nothing and acknowledges the stale entry', () => {
    const { events, commit } = place(histories.cancelled(), lease(), T0, { entryId: ENTRY, entryClient: 'client-1' });
    expect(events).toStrictEqual([]);
    expect(commit).toStrictEqual({
      taskId: TASK_ID,
      queue: 'default',
      expected: 2,
      events: [],
      request: null,
      entryId: ENTRY,
      // the ack takes the entry out of the in-flight count its lease put it in
      entryClient: 'client-1',
      ack: true,
      ready: false,
      due: null,
      clientId: 'client-1',
    });
  });

  test('reclaiming an expired lease keeps the task active on the same entry (no ack)', () => {
    const { commit } = place(histories.active(1), reclaim(OTHER_WORKER), T0, { entryId: ENTRY });
    expect(commit).toMatchObject({ expected: 2, entryId: ENTRY, ack: false, ready: false, due: null });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['lease_expired', 'leased']);
  });

  test('reclaiming an expired lease on the last attempt fails the task and acknowledges the entry', () => {
    const { commit } = place(histories.active(6), reclaim(OTHER_WORKER, RETRY), T0, { entryId: ENTRY });
    expect(commit).toMatchObject({ entryId: ENTRY, ack: true, ready: false, due: null });
    expect(commit.events.map((e) => e.type)).toStrictEqual(['lease_expired', 'failed']);
  });

  test('the expected version is the version the events were decided on', () => {
    const history = histories.active(3);
    const { commit } = place(history, recordAttempt(3, response(200)), T0, { entryId: ENTRY });
    expect(commit.expected).toBe(history.length);
    expect(commit.events.map((e) => e.version)).toStrictEqual([history.length + 1, history.length + 2]);
  });

  test('a commit without events on a pending task does not add a second stream entry', () => {
    const before = stateAfter(...histories.pending());
    expect(commitFor(before, [])).toMatchObject({ expected: 1, ack: false, ready: false, due: null });
  });

  test('a commit without events leaves a waiting task at its due time', () => {
    const before = stateAfter(...histories.scheduled(T0 + 5_000));
    expect(commitFor(before, [])).toMatchObject({ expected: 2, ack: false, ready: false, due: T0 + 5_000 });
  });
});
