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

/**
 * Whose breaker: one per client and target host (`host:port`). A tenant's failing calls open only its own
 * breaker for that host, so they cannot turn away other tenants' tasks to a shared host, nor use up their probes.
 */
export type BreakerKey = Readonly<{ clientId: string; host: string }>;

/** An admitted call to a host; it must be recorded exactly once, with `ignored` when it was never made. */
export type BreakerTicket = Readonly<BreakerKey & { permit: Permit }>;

export type HostAdmission =
  | Readonly<{ allowed: true; ticket: BreakerTicket }>
  | Readonly<{ allowed: false; phase: 'open' | 'half-open'; retryAt: number }>;

export type BreakerChange = Readonly<BreakerKey & { from: BreakerPhase; to: BreakerPhase; at: number }>;

/** One breaker as an operator sees it, with its admitted calls not recorded yet; keys not listed are closed and quiet. */
export type BreakerView = Readonly<BreakerKey & BreakerState & { callsOut: number }>;

/**
 * The circuit breakers of one worker process, one per client and target host, over the pure state machine in
 * domain/breaker. Each worker learns a host's health on its own: nothing is shared through Redis.
 *
 * A quiet key costs no memory: a breaker is stored while it has calls out or holds something (failures, an open
 * or half-open phase), and one that has been quiet for an interval (see isIdle) is forgotten by a sweep that runs
 * on calls, at most once an interval. A breaker with a call out is never forgotten, so every outcome finds the
 * breaker that admitted its call; and a new breaker starts above every generation handed out in this process, so
 * no call from an earlier life of a key can count in a later one. There are no timers: the open → half-open
 * change happens on the first call after the open period.
 */
export type HostBreakers = Readonly<{
  settings: BreakerSettings;
  /** Whether a call for `key` may be made at `now`; half-open, an admitted call is one of the probes. */
  allow: (key: BreakerKey, now: number) => HostAdmission;
  /** Counts what an admitted call said about its host. */
  record: (ticket: BreakerTicket, outcome: HostOutcome, now: number) => void;
  /** The breakers stored now: those with calls out or something to remember. */
  snapshot: () => BreakerView[];
}>;

export type HostBreakersOptions = Readonly<{ onChange?: (change: BreakerChange) => void }>;

type Entry = { readonly key: BreakerKey; state: BreakerState; callsOut: number };

const idOf = ({ clientId, host }: BreakerKey): string => JSON.stringify([clientId, host]);

export const createHostBreakers = (settings: BreakerSettings, options: HostBreakersOptions = {}): HostBreakers => {
  const entries = new Map<string, Entry>();
  let highestGeneration = 0;
  let nextSweepAt = Number.NEGATIVE_INFINITY;

  const forgettable = (entry: Entry, now: number) => entry.callsOut === 0 && isIdle(entry.state, now, settings);

  const sweep = (now: number) => {
    if (now < nextSweepAt) return;
    nextSweepAt = now + settings.intervalMs;
    for (const [id, entry] of entries) if (forgettable(entry, now)) entries.delete(id);
  };

  const update = (id: string, entry: Entry, after: BreakerState, now: number) => {
    const before = entry.state;
    entry.state = after;
    highestGeneration = Math.max(highestGeneration, after.generation);
    if (entry.callsOut === 0 && after.phase === 'closed' && after.failures === 0) entries.delete(id);
    if (after.phase !== before.phase)
      options.onChange?.({ ...entry.key, from: before.phase, to: after.phase, at: now });
  };

  return {
    settings,
    allow: ({ clientId, host }, now) => {
      sweep(now);
      const id = idOf({ clientId, host });
      const entry = entries.get(id) ?? {
        key: { clientId, host },
        state: closedBreaker(now, settings, highestGeneration + 1),
        callsOut: 0,
      };
      entries.set(id, entry);
      const { state, admission } = admit(entry.state, now, settings);
      if (admission.allowed) entry.callsOut++;
      update(id, entry, state, now);
      return admission.allowed ? { allowed: true, ticket: { clientId, host, permit: admission.permit } } : admission;
    },
    record: (ticket, outcome, now) => {
      sweep(now);
      const id = idOf(ticket);
      const entry = entries.get(id);
      if (!entry || entry.callsOut === 0) return; // recorded twice: the breaker that admitted it kept it until now
      entry.callsOut--;
      update(id, entry, settle(entry.state, ticket.permit, outcome, now, settings), now);
    },
    snapshot: () => [...entries.values()].map(({ key, state, callsOut }) => ({ ...key, ...state, callsOut })),
  };
};

/** One log line per change of a breaker, so an operator sees whose tasks for which hosts are turned away, and when. */
export const logBreakerChange =
  (log: Logger, settings: BreakerSettings) =>
  ({ clientId, host, from, to, at }: BreakerChange): void => {
    if (to === 'open') {
      const until = new Date(at + settings.openMs).toISOString();
      log.warn({ clientId, host, from, until }, "circuit breaker opened: deferring this client's tasks for this host");
    } else if (to === 'half-open') {
      log.info({ clientId, host, from }, 'circuit breaker half-open: letting probe calls through');
    } else log.info({ clientId, host, from }, 'circuit breaker closed: the host answers again');
  };
