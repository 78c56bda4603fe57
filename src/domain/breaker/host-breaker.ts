/**
 * One target host's circuit breaker as a pure state machine (time is a parameter, there are no timers):
 * closed → open after `failureThreshold` consecutive failures; open → half-open once `openMs` have passed (noticed
 * by the next `admit`); half-open lets `maxProbes` calls through, and that many successes close it while any
 * failure opens it again. A closed breaker forgets its failures every `intervalMs`.
 *
 * Every phase change starts a new generation. A call carries the generation it was admitted in, and its outcome
 * counts only in that generation: a call admitted before the breaker opened cannot re-open it or close it later.
 * Generations only grow, so a fresh breaker must start above every generation its key has had (the adapter keeps
 * a high-water mark), or a call from an earlier life of the breaker could count in the new one.
 */
export type BreakerSettings = Readonly<{
  failureThreshold: number;
  openMs: number;
  maxProbes: number;
  intervalMs: number;
}>;

export type BreakerState =
  | Readonly<{ phase: 'closed'; generation: number; failures: number; windowEndsAt: number }>
  | Readonly<{ phase: 'open'; generation: number; since: number; until: number }>
  /** `probes` admitted and not given back; `successes` of them came back well (in flight: probes − successes). */
  | Readonly<{ phase: 'half-open'; generation: number; since: number; probes: number; successes: number }>;

export type BreakerPhase = BreakerState['phase'];

/**
 * What a call did to the host's health: `failure` (network error, deadline, 5xx, 429), `success` (the host
 * answered otherwise, 4xx included: those are the task's fault), or `ignored` (no verdict on the host: the call
 * was blocked before it was made, or cancelled); an ignored probe gives its place back.
 */
export type HostOutcome = 'success' | 'failure' | 'ignored';

export type Permit = Readonly<{ generation: number }>;

export type Admission =
  | Readonly<{ allowed: true; permit: Permit }>
  /** `retryAt`: when asking again can be worth it (the end of the open phase, or of the probes' turn). */
  | Readonly<{ allowed: false; phase: 'open' | 'half-open'; retryAt: number }>;

export const closedBreaker = (now: number, settings: BreakerSettings, generation = 0): BreakerState => ({
  phase: 'closed',
  generation,
  failures: 0,
  windowEndsAt: now + settings.intervalMs,
});

const opened = (state: BreakerState, now: number, settings: BreakerSettings): BreakerState => ({
  phase: 'open',
  generation: state.generation + 1,
  since: now,
  until: now + settings.openMs,
});

/** The changes that time alone makes: an open breaker half-opens, a closed one's failure window rolls over. */
const advance = (state: BreakerState, now: number, settings: BreakerSettings): BreakerState => {
  if (state.phase === 'open' && now >= state.until) {
    return { phase: 'half-open', generation: state.generation + 1, since: now, probes: 0, successes: 0 };
  }
  if (state.phase === 'closed' && now >= state.windowEndsAt) {
    return { ...state, failures: 0, windowEndsAt: now + settings.intervalMs };
  }
  return state;
};

/** Whether a call to the host may be made now; a half-open breaker counts the probe it lets through. */
export const admit = (
  state: BreakerState,
  now: number,
  settings: BreakerSettings,
): { state: BreakerState; admission: Admission } => {
  const current = advance(state, now, settings);
  const permit = { generation: current.generation };
  switch (current.phase) {
    case 'closed':
      return { state: current, admission: { allowed: true, permit } };
    case 'open':
      return { state: current, admission: { allowed: false, phase: 'open', retryAt: current.until } };
    case 'half-open':
      if (current.probes < settings.maxProbes) {
        return { state: { ...current, probes: current.probes + 1 }, admission: { allowed: true, permit } };
      }
      // the probes' verdict is not in yet: it takes at most one more open period to have one
      return { state: current, admission: { allowed: false, phase: 'half-open', retryAt: now + settings.openMs } };
  }
};

/** Counts the outcome of an admitted call. */
export const settle = (
  state: BreakerState,
  permit: Permit,
  outcome: HostOutcome,
  now: number,
  settings: BreakerSettings,
): BreakerState => {
  const current = advance(state, now, settings);
  if (permit.generation !== current.generation) return current;
  if (current.phase === 'closed') {
    if (outcome === 'success') return current.failures === 0 ? current : { ...current, failures: 0 };
    if (outcome === 'ignored') return current;
    const failures = current.failures + 1;
    return failures >= settings.failureThreshold ? opened(current, now, settings) : { ...current, failures };
  }
  if (current.phase === 'half-open') {
    // with no probe out, this outcome is no probe's (a permit settled twice): counting it could free a place
    // that was never taken and let more than maxProbes through
    if (current.probes <= current.successes) return current;
    if (outcome === 'failure') return opened(current, now, settings);
    if (outcome === 'ignored') return { ...current, probes: current.probes - 1 };
    const successes = current.successes + 1;
    return successes >= settings.maxProbes
      ? closedBreaker(now, settings, current.generation + 1)
      : { ...current, successes };
  }
  return current;
};

/**
 * A breaker that holds nothing worth keeping: forgetting it (starting again from a fresh closed one) changes
 * nothing, or nothing that matters after a quiet interval. A half-open breaker with probes in flight is kept.
 */
export const isIdle = (state: BreakerState, now: number, settings: BreakerSettings): boolean => {
  switch (state.phase) {
    case 'closed':
      return state.failures === 0 || now >= state.windowEndsAt;
    case 'open':
      return now >= state.until + settings.intervalMs;
    case 'half-open':
      return state.probes === state.successes && now >= state.since + settings.intervalMs;
  }
};

/**
 * When a task turned away by an open breaker is due again: when the breaker lets probes through, plus up to a
 * tenth of the open period (at least 1 ms) of jitter so that the deferred crowd does not come back at once.
 */
export const deferredUntil = (retryAt: number, settings: BreakerSettings, random: number): number =>
  retryAt + Math.floor(random * Math.max(1, settings.openMs / 10));
