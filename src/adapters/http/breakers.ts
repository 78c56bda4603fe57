import {
  admit,
  type BreakerPhase,
  type BreakerSettings,
  type BreakerState,
  closedBreaker,
  type HostOutcome,
  isIdle,
  type Permit,
  settle,
} from '../../domain/breaker/host-breaker.ts';
import type { Logger } from '../logging/logger.ts';

/** An admitted call to a host; it must be recorded exactly once, with `ignored` when it was never made. */
export type BreakerTicket = Readonly<{ host: string; permit: Permit }>;

export type HostAdmission =
  | Readonly<{ allowed: true; ticket: BreakerTicket }>
  | Readonly<{ allowed: false; phase: 'open' | 'half-open'; retryAt: number }>;

export type BreakerChange = Readonly<{ host: string; from: BreakerPhase; to: BreakerPhase; at: number }>;

/** One target host's breaker as an operator sees it; hosts not listed are closed with no failures. */
export type BreakerView = Readonly<{ host: string } & BreakerState>;

/**
 * The circuit breakers of one worker process, one per target host (`host:port`), over the pure state machine in
 * domain/breaker. Each worker learns a host's health on its own: nothing is shared through Redis.
 *
 * A healthy host costs no memory: a breaker that is closed with no failures is not stored, and one that has been
 * quiet for an interval (see isIdle) is forgotten by a sweep that runs on calls, at most once an interval. There
 * are no timers: the open → half-open change happens on the first call after the open period.
 */
export type HostBreakers = Readonly<{
  settings: BreakerSettings;
  /** Whether a call to `host` may be made at `now`; half-open, an admitted call is one of the probes. */
  allow: (host: string, now: number) => HostAdmission;
  /** Counts what an admitted call said about its host. */
  record: (ticket: BreakerTicket, outcome: HostOutcome, now: number) => void;
  /** The breakers that are not plain closed. */
  snapshot: () => BreakerView[];
}>;

export type HostBreakersOptions = Readonly<{ onChange?: (change: BreakerChange) => void }>;

export const createHostBreakers = (settings: BreakerSettings, options: HostBreakersOptions = {}): HostBreakers => {
  const states = new Map<string, BreakerState>();
  let nextSweepAt = Number.NEGATIVE_INFINITY;

  const sweep = (now: number) => {
    if (now < nextSweepAt) return;
    nextSweepAt = now + settings.intervalMs;
    for (const [host, state] of states) if (isIdle(state, now, settings)) states.delete(host);
  };

  const put = (host: string, before: BreakerState, after: BreakerState, now: number) => {
    if (after.phase === 'closed' && after.failures === 0) states.delete(host);
    else if (after !== before) states.set(host, after);
    if (after.phase !== before.phase) options.onChange?.({ host, from: before.phase, to: after.phase, at: now });
  };

  return {
    settings,
    allow: (host, now) => {
      sweep(now);
      const before = states.get(host) ?? closedBreaker(now, settings);
      const { state, admission } = admit(before, now, settings);
      put(host, before, state, now);
      return admission.allowed ? { allowed: true, ticket: { host, permit: admission.permit } } : admission;
    },
    record: ({ host, permit }, outcome, now) => {
      sweep(now);
      // a breaker is forgotten only with no probe out: the outcome counts as in a closed one of its generation
      const before = states.get(host) ?? closedBreaker(now, settings, permit.generation);
      put(host, before, settle(before, permit, outcome, now, settings), now);
    },
    snapshot: () => [...states].map(([host, state]) => ({ host, ...state })),
  };
};

/** One log line per change of a host's breaker, so an operator sees which hosts are turned away and when. */
export const logBreakerChange =
  (log: Logger, settings: BreakerSettings) =>
  ({ host, from, to, at }: BreakerChange): void => {
    if (to === 'open') {
      const until = new Date(at + settings.openMs).toISOString();
      log.warn({ host, from, until }, 'circuit breaker opened: deferring the tasks of this host');
    } else if (to === 'half-open') log.info({ host, from }, 'circuit breaker half-open: letting probe calls through');
    else log.info({ host, from }, 'circuit breaker closed: the host answers again');
  };
