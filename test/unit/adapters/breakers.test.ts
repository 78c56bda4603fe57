import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import {
  type BreakerChange,
  createHostBreakers,
  type HostAdmission,
  logBreakerChange,
} from '../../../src/adapters/http/breakers.ts';
import type { LeasedEntry } from '../../../src/adapters/redis/task-store.ts';
import { gateEntry } from '../../../src/adapters/worker/breaker-gate.ts';
import type { BreakerSettings } from '../../../src/domain/breaker/host-breaker.ts';
import type { TaskEvent } from '../../../src/domain/task/events.ts';
import { enqueued, histories, stateAfter, T0 } from '../../support/given.ts';

const S: BreakerSettings = { failureThreshold: 2, openMs: 1_000, maxProbes: 1, intervalMs: 10_000 };
const A = 'a.example:443';
const B = 'b.example:80';

const ticketOf = (admission: HostAdmission) => {
  if (!admission.allowed) throw new Error('turned away');
  return admission.ticket;
};

const setup = () => {
  const changes: BreakerChange[] = [];
  const breakers = createHostBreakers(S, { onChange: (c) => changes.push(c) });
  const fail = (host: string, at: number) => breakers.record(ticketOf(breakers.allow(host, at)), 'failure', at);
  return { breakers, changes, fail };
};

describe('host breakers', () => {
  test('each host has its own breaker: one open host turns away only its own calls', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(breakers.allow(A, T0 + 1)).toStrictEqual({ allowed: false, phase: 'open', retryAt: T0 + S.openMs });
    expect(breakers.allow(B, T0 + 1).allowed).toBe(true);
  });

  test('tells every phase change with its host and time', () => {
    const { breakers, changes, fail } = setup();
    fail(A, T0);
    fail(A, T0 + 1);
    const probe = ticketOf(breakers.allow(A, T0 + 1 + S.openMs));
    breakers.record(probe, 'success', T0 + 2 + S.openMs);
    expect(changes).toStrictEqual([
      { host: A, from: 'closed', to: 'open', at: T0 + 1 },
      { host: A, from: 'open', to: 'half-open', at: T0 + 1 + S.openMs },
      { host: A, from: 'half-open', to: 'closed', at: T0 + 2 + S.openMs },
    ]);
  });

  test('keeps nothing for healthy hosts, and forgets a quiet one after an interval', () => {
    const { breakers, fail } = setup();
    for (let i = 0; i < 100; i++) breakers.record(ticketOf(breakers.allow(`h${i}:80`, T0)), 'success', T0);
    expect(breakers.snapshot()).toEqual([]);
    fail(A, T0);
    expect(breakers.snapshot()).toEqual([expect.objectContaining({ host: A, phase: 'closed', failures: 1 })]);
    breakers.record(ticketOf(breakers.allow(A, T0)), 'success', T0);
    expect(breakers.snapshot()).toEqual([]);
    fail(A, T0);
    breakers.allow(B, T0 + S.intervalMs);
    expect(breakers.snapshot()).toEqual([]);
  });

  test('the outcome of a call made before its host was forgotten still counts', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    const slow = ticketOf(breakers.allow(A, T0));
    breakers.allow(B, T0 + S.intervalMs); // the sweep forgets A
    fail(A, T0 + S.intervalMs);
    breakers.record(slow, 'failure', T0 + S.intervalMs + 1);
    expect(breakers.allow(A, T0 + S.intervalMs + 2).allowed).toBe(false);
  });
});

test('each change is one log line naming the host; an opened breaker says until when', () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const tell = logBreakerChange(log, S);
  tell({ host: A, from: 'closed', to: 'open', at: T0 });
  tell({ host: A, from: 'open', to: 'half-open', at: T0 + S.openMs });
  tell({ host: A, from: 'half-open', to: 'closed', at: T0 + S.openMs + 5 });
  expect(lines.map(({ level, host, from, until, msg }) => ({ level, host, from, until, msg }))).toStrictEqual([
    {
      level: 40,
      host: A,
      from: 'closed',
      until: new Date(T0 + S.openMs).toISOString(),
      msg: 'circuit breaker opened: deferring the tasks of this host',
    },
    {
      level: 30,
      host: A,
      from: 'open',
      until: undefined,
      msg: 'circuit breaker half-open: letting probe calls through',
    },
    { level: 30, host: A, from: 'half-open', until: undefined, msg: 'circuit breaker closed: the host answers again' },
  ]);
});

describe('the gate before a lease', () => {
  const entry = (history: TaskEvent[], url = `https://${A.replace(':443', '')}/hook`): LeasedEntry => ({
    task: stateAfter(...history),
    events: [],
    request: { url, method: 'POST', headers: {}, body: '' },
    queue: 'default',
    entryId: '1-0',
  });

  test('a ready task whose host is open is deferred to the end of the open period, plus jitter', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(gateEntry(breakers, entry([enqueued()]), T0 + 10, 0.5)).toStrictEqual({
      ticket: null,
      defer: { type: 'DeferTask', data: { host: A, reason: 'breaker open', dueAt: T0 + S.openMs + 50 } },
    });
  });

  test('half-open with its probes out, a ready task is deferred for an open period', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(gateEntry(breakers, entry([enqueued()]), T0 + S.openMs, 0).ticket).not.toBeNull();
    expect(gateEntry(breakers, entry([enqueued()]), T0 + S.openMs + 5, 0).defer?.data).toStrictEqual({
      host: A,
      reason: 'breaker probing',
      dueAt: T0 + 2 * S.openMs + 5,
    });
  });

  test('a ready task of a healthy host goes with a ticket; a reclaimed one, or without breakers, just goes', () => {
    const { breakers } = setup();
    expect(gateEntry(breakers, entry([enqueued()]), T0, 0).ticket).toStrictEqual({
      host: A,
      permit: { generation: 0 },
    });
    expect(gateEntry(breakers, entry(histories.active()), T0, 0)).toStrictEqual({ ticket: null, defer: null });
    expect(gateEntry(null, entry([enqueued()]), T0, 0)).toStrictEqual({ ticket: null, defer: null });
  });
});
