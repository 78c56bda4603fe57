import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import {
  type BreakerChange,
  type BreakerKey,
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
const A = { clientId: 'client-1', host: 'a.example:443' };
const B = { clientId: 'client-1', host: 'b.example:80' };
/** Another tenant calling the same host as A. */
const A_OF_OTHER = { clientId: 'client-2', host: A.host };

const ticketOf = (admission: HostAdmission) => {
  if (!admission.allowed) throw new Error('turned away');
  return admission.ticket;
};

const setup = (settings = S) => {
  const changes: BreakerChange[] = [];
  const breakers = createHostBreakers(settings, { onChange: (c) => changes.push(c) });
  const start = (key: BreakerKey, at: number) => ticketOf(breakers.allow(key, at));
  const fail = (key: BreakerKey, at: number) => breakers.record(start(key, at), 'failure', at);
  return { breakers, changes, start, fail };
};

describe('host breakers', () => {
  test('each host has its own breaker: one open host turns away only its own calls', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(breakers.allow(A, T0 + 1)).toStrictEqual({ allowed: false, phase: 'open', retryAt: T0 + S.openMs });
    expect(breakers.allow(B, T0 + 1).allowed).toBe(true);
  });

  test("one tenant's failures at a shared host open only its own breaker; the other's calls still go", () => {
    const { breakers, changes, fail, start } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(breakers.allow(A, T0 + 1).allowed).toBe(false);
    breakers.record(start(A_OF_OTHER, T0 + 1), 'success', T0 + 1);
    expect(changes).toStrictEqual([{ ...A, from: 'closed', to: 'open', at: T0 }]);
    // half-open, the other tenant's calls are no probes of A's breaker: they neither use its places nor close it
    const others = Array.from({ length: 5 }, () => start(A_OF_OTHER, T0 + S.openMs));
    for (const t of others) breakers.record(t, 'success', T0 + S.openMs);
    expect(breakers.allow(A, T0 + S.openMs).allowed).toBe(true);
    expect(breakers.allow(A, T0 + S.openMs).allowed).toBe(false);
    expect(breakers.snapshot()).toEqual([expect.objectContaining({ ...A, phase: 'half-open', callsOut: 1 })]);
  });

  test('tells every phase change with its client, host and time', () => {
    const { breakers, changes, fail } = setup();
    fail(A, T0);
    fail(A, T0 + 1);
    const probe = ticketOf(breakers.allow(A, T0 + 1 + S.openMs));
    breakers.record(probe, 'success', T0 + 2 + S.openMs);
    expect(changes).toStrictEqual([
      { ...A, from: 'closed', to: 'open', at: T0 + 1 },
      { ...A, from: 'open', to: 'half-open', at: T0 + 1 + S.openMs },
      { ...A, from: 'half-open', to: 'closed', at: T0 + 2 + S.openMs },
    ]);
  });

  test('keeps nothing for quiet hosts, and forgets a quiet one after an interval', () => {
    const { breakers, fail } = setup();
    for (let i = 0; i < 100; i++)
      breakers.record(ticketOf(breakers.allow({ ...A, host: `h${i}:80` }, T0)), 'success', T0);
    expect(breakers.snapshot()).toEqual([]);
    fail(A, T0);
    expect(breakers.snapshot()).toEqual([expect.objectContaining({ ...A, phase: 'closed', failures: 1 })]);
    breakers.record(ticketOf(breakers.allow(A, T0)), 'success', T0);
    expect(breakers.snapshot()).toEqual([]);
    fail(A, T0);
    breakers.allow(B, T0 + S.intervalMs);
    expect(breakers.snapshot()).toEqual([expect.objectContaining({ ...B, callsOut: 1 })]);
  });

  test('a breaker with a call out is not forgotten: the outcome of a slow call still counts', () => {
    const { breakers, fail, start } = setup();
    fail(A, T0);
    const slow = start(A, T0);
    breakers.allow(B, T0 + S.intervalMs); // the sweep: A's failure window is over, but a call is out
    fail(A, T0 + S.intervalMs);
    breakers.record(slow, 'failure', T0 + S.intervalMs + 1);
    expect(breakers.allow(A, T0 + S.intervalMs + 2).allowed).toBe(false);
  });

  test('the calls out together at a healthy host all count', () => {
    const { breakers, start } = setup({ ...S, failureThreshold: 3 });
    const calls = [start(A, T0), start(A, T0), start(B, T0), start(A, T0)];
    for (const t of calls) breakers.record(t, 'failure', T0 + 1);
    expect(breakers.allow(A, T0 + 2).allowed).toBe(false);
  });

  test('a slow call from an earlier life of a breaker does not count in a later one', () => {
    const { breakers, fail, start } = setup();
    const slow = start(A, T0);
    fail(A, T0);
    fail(A, T0); // open
    const probe = start(A, T0 + S.openMs);
    breakers.record(probe, 'success', T0 + S.openMs); // closed again, with no failures
    fail(A, T0 + S.openMs + 1);
    breakers.record(slow, 'failure', T0 + S.openMs + 2); // admitted before the breaker opened
    expect(breakers.allow(A, T0 + S.openMs + 3).allowed).toBe(true);
    expect(breakers.snapshot()).toEqual([expect.objectContaining({ ...A, phase: 'closed', failures: 1 })]);
  });

  test('a stale probe given back in a later half-open period lets no extra probe through', () => {
    const settings: BreakerSettings = { failureThreshold: 1, openMs: 1_000, maxProbes: 2, intervalMs: 10_000 };
    const { breakers, fail, start } = setup(settings);
    fail(A, T0); // open
    const [first, stale] = [start(A, T0 + 1_000), start(A, T0 + 1_000)] as const;
    breakers.record(first, 'failure', T0 + 1_001); // open again; `stale` is still out
    const later = T0 + 12_001; // an interval after that open period: the breaker is quiet but for `stale`
    breakers.allow(B, later);
    fail(A, later); // open (again or anew)
    const halfOpen = later + 1_000;
    breakers.record(stale, 'ignored', halfOpen);
    const admitted = Array.from({ length: 10 }, () => breakers.allow(A, halfOpen)).filter((a) => a.allowed);
    expect(admitted).toHaveLength(settings.maxProbes);
  });

  test('generations only grow: a new breaker starts above every generation handed out before', () => {
    const { breakers, fail, start } = setup();
    fail(A, T0);
    fail(A, T0);
    const probe = start(A, T0 + S.openMs);
    breakers.record(probe, 'success', T0 + S.openMs); // closed, forgotten
    const fresh = start(A, T0 + S.openMs + 1);
    expect(fresh.permit.generation).toBeGreaterThan(probe.permit.generation + 1);
    expect(start(B, T0 + S.openMs + 1).permit.generation).toBeGreaterThan(fresh.permit.generation);
  });
});

test('each change is one log line naming the client and the host; an opened breaker says until when', () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const tell = logBreakerChange(log, S);
  tell({ ...A, from: 'closed', to: 'open', at: T0 });
  tell({ ...A, from: 'open', to: 'half-open', at: T0 + S.openMs });
  tell({ ...A, from: 'half-open', to: 'closed', at: T0 + S.openMs + 5 });
  const fields = lines.map(({ level, clientId, host, from, until, msg }) => ({
    level,
    clientId,
    host,
    from,
    until,
    msg,
  }));
  expect(fields).toStrictEqual([
    {
      level: 40,
      ...A,
      from: 'closed',
      until: new Date(T0 + S.openMs).toISOString(),
      msg: "circuit breaker opened: deferring this client's tasks for this host",
    },
    {
      level: 30,
      ...A,
      from: 'open',
      until: undefined,
      msg: 'circuit breaker half-open: letting probe calls through',
    },
    { level: 30, ...A, from: 'half-open', until: undefined, msg: 'circuit breaker closed: the host answers again' },
  ]);
});

describe('the gate before a lease', () => {
  const entry = (history: TaskEvent[], url = `https://${A.host.replace(':443', '')}/hook`): LeasedEntry => ({
    task: stateAfter(...history),
    events: [],
    request: { url, method: 'POST', headers: {}, body: '' },
    queue: 'default',
    entryId: '1-0',
    entryClient: '',
  });

  test('a ready task whose host is open is deferred to the end of the open period, plus jitter', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(gateEntry(breakers, entry([enqueued()]), T0 + 10, 0.5)).toStrictEqual({
      ticket: null,
      defer: { type: 'DeferTask', data: { host: A.host, reason: 'breaker open', dueAt: T0 + S.openMs + 50 } },
    });
  });

  test('half-open with its probes out, a ready task is deferred for an open period', () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(gateEntry(breakers, entry([enqueued()]), T0 + S.openMs, 0).ticket).not.toBeNull();
    expect(gateEntry(breakers, entry([enqueued()]), T0 + S.openMs + 5, 0).defer?.data).toStrictEqual({
      host: A.host,
      reason: 'breaker probing',
      dueAt: T0 + 2 * S.openMs + 5,
    });
  });

  test("a ready task of another client goes to a host whose breaker is open for the first one's tasks", () => {
    const { breakers, fail } = setup();
    fail(A, T0);
    fail(A, T0);
    expect(gateEntry(breakers, entry([enqueued()]), T0 + 10, 0).defer).not.toBeNull();
    expect(gateEntry(breakers, entry([enqueued({ clientId: A_OF_OTHER.clientId })]), T0 + 10, 0)).toStrictEqual({
      ticket: { ...A_OF_OTHER, permit: { generation: expect.any(Number) } },
      defer: null,
    });
  });

  test('a ready task of a healthy host goes with a ticket; a reclaimed one, or without breakers, just goes', () => {
    const { breakers } = setup();
    expect(gateEntry(breakers, entry([enqueued()]), T0, 0).ticket).toStrictEqual({
      ...A,
      permit: { generation: 1 },
    });
    expect(gateEntry(breakers, entry(histories.active()), T0, 0)).toStrictEqual({ ticket: null, defer: null });
    expect(gateEntry(null, entry([enqueued()]), T0, 0)).toStrictEqual({ ticket: null, defer: null });
  });
});
