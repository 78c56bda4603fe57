import { deferredUntil } from '../../domain/breaker/host-breaker.ts';
import { targetHost } from '../../domain/breaker/target-host.ts';
import type { DeferTask } from '../../domain/task/commands.ts';
import type { BreakerTicket, HostBreakers } from '../http/breakers.ts';
import type { LeasedEntry } from '../redis/task-store.ts';

/** What the breaker of a task's client and host says before its lease is committed: go (with a ticket) or defer. */
export type Gate = Readonly<{ ticket: BreakerTicket | null; defer: DeferTask | null }>;

const PASS: Gate = { ticket: null, defer: null };

/**
 * Asks the breaker of a ready task's client for its target host. A task it turns away is deferred instead of
 * leased: no attempt is used and no call is made. Only ready (pending) tasks are asked about: a task reclaimed from
 * a dead worker already used its attempt and is dispatched as it is, unrecorded.
 */
export const gateEntry = (breakers: HostBreakers | null, entry: LeasedEntry, now: number, random: number): Gate => {
  if (!breakers || !entry.request || entry.task.status !== 'pending') return PASS;
  let host: string;
  try {
    host = targetHost(entry.request.url);
  } catch {
    return PASS; // not a URL (it was checked at enqueue): the dispatch fails it as it would without breakers
  }
  const admission = breakers.allow({ clientId: entry.task.clientId, host }, now);
  if (admission.allowed) return { ticket: admission.ticket, defer: null };
  const dueAt = deferredUntil(admission.retryAt, breakers.settings, random);
  const reason = admission.phase === 'open' ? 'breaker open' : 'breaker probing';
  return { ticket: null, defer: { type: 'DeferTask', data: { host, reason, dueAt } } };
};
