import { describe, expect, test } from 'vitest';
import { type Recorded, record, type TaskEvent } from '../../../src/domain/task/events.ts';
import { QueueReplay } from '../../../src/projections/as-of.ts';
import type { LedgerEvent } from '../../../src/projections/projection.ts';
import {
  attempted,
  cancelled,
  enqueued,
  histories,
  leased,
  released,
  response,
  retryScheduled,
  T0,
} from '../../support/given.ts';

/**
 * QueueReplay folds ledger events (of every task, interleaved) into one queue's counts by status. The ledger here is
 * built like the real one: each task's events stamped with its own versions, then interleaved in commit order.
 */
const NONE = { scheduled: 0, pending: 0, active: 0, retrying: 0, succeeded: 0, failed: 0, cancelled: 0 };

let seq = 0;
const stamp = (taskId: string, events: readonly TaskEvent[], fromVersion = 0): LedgerEvent[] =>
  record(taskId, fromVersion, T0, events).map((e: Recorded) => ({ ...e, ledgerId: `${T0}-${seq++}` }));

/** Round-robin interleaving of several tasks' events, as concurrent commits leave them in the ledger. */
const interleave = (...perTask: LedgerEvent[][]): LedgerEvent[] => {
  const out: LedgerEvent[] = [];
  for (let i = 0; perTask.some((t) => i < t.length); i++) {
    for (const t of perTask) {
      const e = t[i];
      if (e) out.push(e);
    }
  }
  return out;
};

const expunged = (status: 'succeeded' | 'failed' | 'cancelled', queue = 'default'): TaskEvent => ({
  type: 'expunged',
  data: { by: 'retention', status, queue, clientId: 'client-1' },
});

const countsOf = (queue: string, ...pages: LedgerEvent[][]) => {
  const replay = new QueueReplay(queue);
  for (const page of pages) replay.apply(page);
  return replay.counts();
};

describe('QueueReplay', () => {
  test('nothing replayed: every status counts 0', () => {
    expect(countsOf('default')).toEqual(NONE);
    expect(countsOf('default', [])).toEqual(NONE);
  });

  test('each task is counted once, under the status its events leave it in', () => {
    const ledger = interleave(
      stamp('t-pending', histories.pending()),
      stamp('t-scheduled', histories.scheduled()),
      stamp('t-active', histories.active(2)),
      stamp('t-retrying', histories.retrying()),
      stamp('t-succeeded', histories.succeeded()),
      stamp('t-failed', histories.failed()),
      stamp('t-cancelled', histories.cancelled()),
      stamp('t-succeeded-2', histories.succeeded()),
    );
    expect(countsOf('default', ledger)).toEqual({
      scheduled: 1,
      pending: 1,
      active: 1,
      retrying: 1,
      succeeded: 2,
      failed: 1,
      cancelled: 1,
    });
  });

  test("only the replayed queue's tasks count, including their later events", () => {
    const ledger = interleave(
      stamp('t-critical', [enqueued({ queue: 'critical' }), leased(1)]),
      stamp('t-low', [enqueued({ queue: 'low' }), cancelled()]),
      stamp('t-default', [enqueued(), leased(1), attempted(1, response(503)), retryScheduled(2, T0 + 1000, 1000)]),
    );
    expect(countsOf('default', ledger)).toEqual({ ...NONE, retrying: 1 });
    expect(countsOf('critical', ledger)).toEqual({ ...NONE, active: 1 });
    expect(countsOf('low', ledger)).toEqual({ ...NONE, cancelled: 1 });
    expect(countsOf('nowhere', ledger)).toEqual(NONE);
  });

  test('a task whose enqueued event is not in the replayed range is not counted', () => {
    // the first two events were trimmed from the ledger: the queue of this task is unknown to the replay
    const trimmed = stamp('t-trimmed', histories.succeeded()).slice(2);
    expect(countsOf('default', trimmed)).toEqual(NONE);
  });

  test('an expunged task is no longer counted', () => {
    const ledger = interleave(
      stamp('t-gone', [...histories.succeeded(), expunged('succeeded')]),
      stamp('t-kept', histories.succeeded()),
      stamp('t-cancelled-gone', [...histories.cancelled(), expunged('cancelled')]),
    );
    expect(countsOf('default', ledger)).toEqual({ ...NONE, succeeded: 1 });
  });

  test('an expunged event of a task never seen changes nothing', () => {
    const ledger = [...stamp('t-kept', histories.pending()), ...stamp('t-old', [expunged('failed')], 6)];
    expect(countsOf('default', ledger)).toEqual({ ...NONE, pending: 1 });
  });

  test('fed page by page, at any page boundary, the counts are those of the whole ledger at once', () => {
    const ledger = interleave(
      stamp('a', histories.failed()),
      stamp('b', [...histories.scheduled(T0 + 5000), released('scheduled'), leased(1)]),
      stamp('c', histories.retrying()),
      stamp('d', [...histories.cancelled(), expunged('cancelled')]),
      stamp('e', [enqueued({ queue: 'low' }), leased(1)]),
    );
    const whole = countsOf('default', ledger);
    expect(whole).toEqual({ ...NONE, active: 1, retrying: 1, failed: 1 });
    for (let cut = 0; cut <= ledger.length; cut++) {
      expect(countsOf('default', ledger.slice(0, cut), ledger.slice(cut)), `cut at ${cut}`).toEqual(whole);
    }
    // and one event per page
    expect(countsOf('default', ...ledger.map((e) => [e]))).toEqual(whole);
  });

  test('the counts of a prefix of the ledger are the counts as of that point', () => {
    const ledger = stamp('t', histories.succeeded());
    const asOf = (n: number) => countsOf('default', ledger.slice(0, n));
    expect([1, 2, 3, 4].map(asOf)).toEqual([
      { ...NONE, pending: 1 },
      { ...NONE, active: 1 },
      { ...NONE, active: 1 },
      { ...NONE, succeeded: 1 },
    ]);
  });
});
