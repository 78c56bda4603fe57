import { describe, expect, test } from 'vitest';
import {
  type Admission,
  admit,
  type BreakerSettings,
  type BreakerState,
  closedBreaker,
  deferredUntil,
  type HostOutcome,
  isIdle,
  type Permit,
  settle,
} from '../../../src/domain/breaker/host-breaker.ts';
import { hostOutcome, targetHost } from '../../../src/domain/breaker/target-host.ts';
import { T0 } from '../../support/given.ts';

/** The seed's defaults: 5 consecutive failures, open 30 s, 3 probes, counts cleared every 60 s. */
const S: BreakerSettings = { failureThreshold: 5, openMs: 30_000, maxProbes: 3, intervalMs: 60_000 };

/** A breaker driven call by call, at times the test chooses. */
const breaker = (settings = S, start = T0) => {
  let state: BreakerState = closedBreaker(start, settings);
  const b = {
    get state() {
      return state;
    },
    admit(now: number): Admission {
      const r = admit(state, now, settings);
      state = r.state;
      return r.admission;
    },
    /** Admits a call (it must be allowed) and returns its permit, to settle later. */
    start(now: number): Permit {
      const a = b.admit(now);
      if (!a.allowed) throw new Error(`call at ${now - T0} turned away (${a.phase})`);
      return a.permit;
    },
    settle(permit: Permit, outcome: HostOutcome, now: number) {
      state = settle(state, permit, outcome, now, settings);
    },
    /** One whole call: admitted and settled at `now`. */
    call(outcome: HostOutcome, now: number) {
      b.settle(b.start(now), outcome, now);
    },
  };
  return b;
};

const openUntil = (b: ReturnType<typeof breaker>, at: number) => {
  for (let i = 0; i < S.failureThreshold; i++) b.call('failure', at);
  expect(b.state).toMatchObject({ phase: 'open', until: at + S.openMs });
};

describe('closed', () => {
  test('opens on the threshold-th consecutive failure, not before', () => {
    const b = breaker();
    for (let i = 1; i < S.failureThreshold; i++) b.call('failure', T0 + i);
    expect(b.state).toMatchObject({ phase: 'closed', failures: S.failureThreshold - 1 });
    b.call('failure', T0 + 10);
    expect(b.state).toMatchObject({ phase: 'open', since: T0 + 10, until: T0 + 10 + S.openMs });
  });

  test('a success in between starts the count again: failures must be consecutive', () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.call('failure', T0);
    b.call('success', T0);
    for (let i = 0; i < 4; i++) b.call('failure', T0);
    expect(b.state).toMatchObject({ phase: 'closed', failures: 4 });
  });

  test('an ignored outcome (a blocked destination) neither counts nor resets the count', () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.call('failure', T0);
    b.call('ignored', T0);
    expect(b.state).toMatchObject({ phase: 'closed', failures: 4 });
    b.call('failure', T0);
    expect(b.state.phase).toBe('open');
  });

  test('the failure count is cleared once the interval has passed', () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.call('failure', T0 + 1);
    b.call('failure', T0 + S.intervalMs);
    expect(b.state).toMatchObject({ phase: 'closed', failures: 1, windowEndsAt: T0 + 2 * S.intervalMs });
  });

  test('admits every call', () => {
    const b = breaker();
    for (let i = 0; i < 100; i++) expect(b.admit(T0).allowed).toBe(true);
  });
});

describe('open', () => {
  test('turns every call away until the open period is over', () => {
    const b = breaker();
    openUntil(b, T0);
    expect(b.admit(T0 + 1)).toStrictEqual({ allowed: false, phase: 'open', retryAt: T0 + S.openMs });
    expect(b.admit(T0 + S.openMs - 1)).toStrictEqual({ allowed: false, phase: 'open', retryAt: T0 + S.openMs });
  });

  test('outcomes of calls admitted before it opened change nothing', () => {
    const b = breaker();
    const late = [b.start(T0), b.start(T0)];
    openUntil(b, T0 + 1);
    b.settle(late[0] as Permit, 'success', T0 + 2);
    b.settle(late[1] as Permit, 'failure', T0 + 3);
    expect(b.state).toMatchObject({ phase: 'open', until: T0 + 1 + S.openMs });
  });
});

describe('half-open', () => {
  const halfOpen = () => {
    const b = breaker();
    openUntil(b, T0);
    return b;
  };
  const AT = T0 + S.openMs;

  test('lets exactly maxProbes calls through after the open period, and turns the rest away', () => {
    const b = halfOpen();
    const admitted = Array.from({ length: 10 }, (_, i) => b.admit(AT + i));
    expect(admitted.filter((a) => a.allowed)).toHaveLength(S.maxProbes);
    expect(admitted.slice(0, S.maxProbes).every((a) => a.allowed)).toBe(true);
    expect(admitted.at(-1)).toStrictEqual({ allowed: false, phase: 'half-open', retryAt: AT + 9 + S.openMs });
    expect(b.state).toMatchObject({ phase: 'half-open', since: AT, probes: S.maxProbes, successes: 0 });
  });

  test('closes once all its probes succeeded, with no failures counted', () => {
    const b = halfOpen();
    const probes = Array.from({ length: S.maxProbes }, () => b.start(AT));
    b.settle(probes[0] as Permit, 'success', AT + 1);
    b.settle(probes[1] as Permit, 'success', AT + 2);
    expect(b.state).toMatchObject({ phase: 'half-open', successes: 2 });
    expect(b.admit(AT + 2).allowed).toBe(false);
    b.settle(probes[2] as Permit, 'success', AT + 3);
    expect(b.state).toMatchObject({ phase: 'closed', failures: 0, windowEndsAt: AT + 3 + S.intervalMs });
    expect(b.admit(AT + 4).allowed).toBe(true);
  });

  test('opens again for a whole open period on the first failed probe; the other probes change nothing', () => {
    const b = halfOpen();
    const probes = Array.from({ length: S.maxProbes }, () => b.start(AT));
    b.settle(probes[0] as Permit, 'success', AT + 1);
    b.settle(probes[1] as Permit, 'failure', AT + 2);
    expect(b.state).toMatchObject({ phase: 'open', until: AT + 2 + S.openMs });
    b.settle(probes[2] as Permit, 'success', AT + 3);
    expect(b.state).toMatchObject({ phase: 'open', until: AT + 2 + S.openMs });
    expect(b.admit(AT + 2 + S.openMs - 1).allowed).toBe(false);
    expect(b.admit(AT + 2 + S.openMs).allowed).toBe(true);
  });

  test('a slow call admitted before the breaker opened is no probe: its outcome neither opens nor closes it', () => {
    const b = breaker();
    const slow = [b.start(T0), b.start(T0)];
    openUntil(b, T0);
    const probes = Array.from({ length: S.maxProbes - 1 }, () => b.start(AT));
    b.settle(slow[0] as Permit, 'failure', AT + 1);
    expect(b.state).toMatchObject({ phase: 'half-open', probes: S.maxProbes - 1, successes: 0 });
    for (const p of probes) b.settle(p, 'success', AT + 2);
    b.settle(slow[1] as Permit, 'success', AT + 3);
    expect(b.state).toMatchObject({ phase: 'half-open', successes: S.maxProbes - 1 });
  });

  test('an ignored probe gives its place to another call', () => {
    const b = halfOpen();
    const probes = Array.from({ length: S.maxProbes }, () => b.start(AT));
    expect(b.admit(AT).allowed).toBe(false);
    b.settle(probes[0] as Permit, 'ignored', AT + 1);
    expect(b.admit(AT + 1).allowed).toBe(true);
    expect(b.admit(AT + 1).allowed).toBe(false);
  });

  test('an outcome settled with no probe out (a permit settled twice) frees no place and changes nothing', () => {
    const b = halfOpen();
    const probe = b.start(AT);
    b.settle(probe, 'ignored', AT + 1);
    b.settle(probe, 'ignored', AT + 2);
    expect(b.state).toMatchObject({ phase: 'half-open', probes: 0, successes: 0 });
    b.settle(probe, 'success', AT + 3);
    b.settle(probe, 'failure', AT + 3);
    expect(b.state).toMatchObject({ phase: 'half-open', probes: 0, successes: 0 });
    const admitted = Array.from({ length: 10 }, () => b.admit(AT + 4)).filter((a) => a.allowed);
    expect(admitted).toHaveLength(S.maxProbes);
  });

  test('half-opens, and counts probes, per open period: each period lets at most maxProbes calls through', () => {
    const b = halfOpen();
    let opensAt = T0;
    for (let round = 0; round < 3; round++) {
      const from = opensAt + S.openMs;
      const admitted = Array.from({ length: 20 }, (_, i) => b.admit(from + i)).filter((a) => a.allowed);
      expect(admitted).toHaveLength(S.maxProbes);
      const first = admitted[0] as Extract<Admission, { allowed: true }>;
      b.settle(first.permit, 'failure', from + 20);
      opensAt = from + 20;
    }
  });
});

describe('idle breakers (what the adapter may forget)', () => {
  test('a closed breaker without failures, or whose interval is over, is idle', () => {
    const b = breaker();
    expect(isIdle(b.state, T0, S)).toBe(true);
    b.call('failure', T0);
    expect(isIdle(b.state, T0 + S.intervalMs - 1, S)).toBe(false);
    expect(isIdle(b.state, T0 + S.intervalMs, S)).toBe(true);
  });

  test('an open breaker is kept until an interval after it could half-open', () => {
    const b = breaker();
    openUntil(b, T0);
    expect(isIdle(b.state, T0 + S.openMs + S.intervalMs - 1, S)).toBe(false);
    expect(isIdle(b.state, T0 + S.openMs + S.intervalMs, S)).toBe(true);
  });

  test('a half-open breaker with a probe out is never idle', () => {
    const b = breaker();
    openUntil(b, T0);
    b.start(T0 + S.openMs);
    expect(isIdle(b.state, T0 + 100 * S.intervalMs, S)).toBe(false);
  });
});

describe('when a deferred task is due again', () => {
  test('at the end of the open period, plus up to a tenth of it of jitter', () => {
    expect(deferredUntil(T0, S, 0)).toBe(T0);
    expect(deferredUntil(T0, S, 0.5)).toBe(T0 + 1_500);
    expect(deferredUntil(T0, S, 0.999_999)).toBe(T0 + 2_999);
  });

  test('spread over distinct times for a crowd', () => {
    const times = new Set(Array.from({ length: 100 }, (_, i) => deferredUntil(T0, S, i / 100)));
    expect(times.size).toBe(100);
  });
});

describe('what counts against a host', () => {
  const r = (status: number | null, extra: object = {}) => ({ status, latencyMs: 1, error: null, ...extra });
  test.each([
    [r(null), 'failure'],
    [r(500), 'failure'],
    [r(503), 'failure'],
    [r(429), 'failure'],
    [r(200), 'success'],
    [r(302), 'success'],
    [r(404), 'success'],
    [r(400), 'success'],
    [r(null, { permanent: true }), 'ignored'],
  ] as const)('%o → %s', (response, outcome) => {
    expect(hostOutcome(response)).toBe(outcome);
  });

  test('the breaker key is host:port, with the default port written out', () => {
    expect(targetHost('http://Example.com/a?b')).toBe('example.com:80');
    expect(targetHost('http://example.com:80/')).toBe('example.com:80');
    expect(targetHost('https://example.com/')).toBe('example.com:443');
    expect(targetHost('http://127.0.0.1:8080/x')).toBe('127.0.0.1:8080');
    expect(targetHost('http://[::1]:9000/')).toBe('[::1]:9000');
  });
});
