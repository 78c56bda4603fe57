import type { Redis } from 'ioredis';
import type { HostOutcome } from '../../domain/breaker/host-breaker.ts';
import { hostOutcome } from '../../domain/breaker/target-host.ts';
import { leasePlan } from '../../domain/priority/weighted-plan.ts';
import type { QueueConfig } from '../../domain/queue/queue.ts';
import type { TaskCommand } from '../../domain/task/commands.ts';
import { decide } from '../../domain/task/decide.ts';
import { DomainError } from '../../domain/task/errors.ts';
import { type Recorded, record, type TaskEvent } from '../../domain/task/events.ts';
import { evolve } from '../../domain/task/evolve.ts';
import type { AttemptResponse, HttpRequestSpec, Task } from '../../domain/task/task.ts';
import type { BreakerTicket, HostBreakers } from '../http/breakers.ts';
import type { Dispatch } from '../http/dispatcher.ts';
import type { Logger } from '../logging/logger.ts';
import { CommitBatcher } from '../redis/commit-batcher.ts';
import { type InFlightLimits, NO_LIMITS, unparkTasks } from '../redis/in-flight.ts';
import { commitFor } from '../redis/placement.ts';
import { type CommitResult, type LeasedEntry, type RedisTaskStore, StorageError } from '../redis/task-store.ts';
import { gateEntry } from './breaker-gate.ts';
import { errorBackoffMs, sleep } from './sleep.ts';

export type ProcessorOptions = Readonly<{
  store: RedisTaskStore;
  /** A connection of its own for the blocking read that waits for work. */
  blocking: Redis;
  dispatch: Dispatch;
  queues: readonly QueueConfig[];
  workerId: string;
  concurrency: number;
  leaseMs: number;
  log: Logger;
  now?: () => number;
  random?: () => number;
  blockMs?: number;
  /** The tiers' in-flight limits, held across all workers by the lease script. */
  inFlightLimits?: InFlightLimits;
  /** This worker's circuit breakers per target host; none = every call is made. */
  breakers?: HostBreakers;
}>;

/** A leased task from the call until its result is committed; `calling` while the HTTP call runs. */
type InFlight = {
  queue: string;
  entryId: string;
  taskId: string;
  controller: AbortController;
  done: Promise<void>;
  calling: boolean;
  /** The call's admission by its host's breaker, until its outcome is recorded there. */
  ticket: BreakerTicket | null;
};

/** Entry ids are unique per stream only: two queues can hand out the same id in the same millisecond. */
const flightKey = (queue: string, entryId: string) => `${queue}/${entryId}`;

/** A pause or resume reaches every worker within this long. */
const PAUSED_REFRESH_MS = 1000;

/**
 * Leases tasks by weighted priority, dispatches them with at most `concurrency` calls in flight, and records
 * each attempt. The lease keeper extends every lease this worker holds in one script call per queue, so a
 * lease expires only when its worker stops extending it (it died or froze), and another worker reclaims it.
 *
 * Shutdown order (stop): stop leasing → let calls in flight finish (leases are still kept)
 * → commit their results → stop the keeper.
 */
export class Processor {
  private readonly o: Required<Omit<ProcessorOptions, 'breakers'>>;
  private readonly byName: Map<string, QueueConfig>;
  private readonly breakers: HostBreakers | null;
  /** Keyed by flightKey(queue, entry id). */
  private readonly inflight = new Map<string, InFlight>();
  /** HTTP calls running: what WORKER_CONCURRENCY limits. A finished call frees its slot before its commit. */
  private calls = 0;
  /** Tasks leased whose lease is still being committed: their slots are taken until their calls start. */
  private reserved = 0;
  /** Lease commits in flight: the next lease does not wait for them (see takeAhead). */
  private readonly takes = new Set<Promise<void>>();
  /** Lease commits that failed in a row: the lease loop backs off by them as by its own failures. */
  private commitFailures = 0;
  private readonly completions: CommitBatcher;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private slotFreed: (() => void) | null = null;
  private paused: ReadonlySet<string> = new Set();
  private pausedReadAt = Number.NEGATIVE_INFINITY;
  private readonly stopping = new AbortController();
  private keeper: NodeJS.Timeout | null = null;
  private blockingClientId: number | null = null;
  private readonly onBlockingReady = () => {
    this.o.blocking.client('ID').then(
      (id) => {
        this.blockingClientId = Number(id);
      },
      () => {},
    );
  };

  constructor(options: ProcessorOptions) {
    this.o = { now: Date.now, random: Math.random, blockMs: 1000, inFlightLimits: NO_LIMITS, ...options };
    this.breakers = options.breakers ?? null;
    this.byName = new Map(options.queues.map((q) => [q.name, q]));
    // attempts end one by one; a short window turns their commits into a few round trips instead of one each
    this.completions = new CommitBatcher(options.store, options.workerId, { windowMs: 5 });
  }

  async start(): Promise<void> {
    await this.o.store.ensureQueues(this.o.queues.map((q) => q.name));
    this.blockingClientId = Number(await this.o.blocking.client('ID'));
    // a reconnect gives the blocking connection a new id, which SIGTERM needs to unblock it
    this.o.blocking.on('ready', this.onBlockingReady);
    this.running = true;
    this.loopDone = this.leaseLoop();
    this.keeper = setInterval(() => void this.extendLeases(), Math.max(50, this.o.leaseMs / 3));
  }

  /** Stops leasing, waits up to `graceMs` for calls in flight, then aborts the rest (their leases expire). */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.slotFreed?.();
    // end a blocking read now rather than when it times out; an entry it already read is still processed
    if (this.blockingClientId !== null)
      await this.o.store.redis.client('UNBLOCK', this.blockingClientId).catch(() => {});
    await this.loopDone;
    await Promise.all(this.takes);
    this.o.log.info({ inFlight: this.inflight.size }, 'stopped leasing; draining calls in flight');
    const drained = Promise.all([...this.inflight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.o.log.warn({ inFlight: this.inflight.size }, 'grace period over: aborting calls in flight');
      for (const f of this.inflight.values()) f.controller.abort('worker shutting down');
      await drained;
    }
    await this.completions.drain();
    if (this.keeper) clearInterval(this.keeper);
    this.o.blocking.off('ready', this.onBlockingReady);
  }

  private queue(name: string): QueueConfig {
    const queue = this.byName.get(name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    return queue;
  }

  private freeSlots(): number {
    return this.o.concurrency - this.calls - this.reserved;
  }

  /**
   * Each turn leases as many tasks as there are free slots: first, when it is time, leases that expired with
   * a dead worker (reclaim); then new entries by weighted plan; when there are none, a blocking read waits
   * for the next entry (at most until the next reclaim is due), so an idle worker does not poll.
   */
  private async leaseLoop(): Promise<void> {
    const reclaimEveryMs = Math.max(100, this.o.leaseMs / 2);
    let nextReclaimAt = 0;
    let failures = 0;
    while (this.running) {
      const free = this.freeSlots();
      if (free <= 0) {
        await new Promise<void>((r) => {
          this.slotFreed = r;
        });
        this.slotFreed = null;
        continue;
      }
      try {
        if (this.commitFailures > 0) await sleep(errorBackoffMs(this.commitFailures), this.stopping.signal);
        const queues = await this.unpausedQueues();
        if (queues.length === 0) {
          await sleep(PAUSED_REFRESH_MS, this.stopping.signal);
          continue;
        }
        if (this.o.now() >= nextReclaimAt) {
          nextReclaimAt = this.o.now() + reclaimEveryMs;
          const names = queues.map((q) => q.name);
          await this.unpark();
          const reclaimed = await this.o.store.reclaim(this.o.workerId, names, this.o.leaseMs, free);
          if (reclaimed.length > 0) {
            this.o.log.info({ count: reclaimed.length }, 'reclaimed expired leases');
            await this.take(reclaimed, 'ReclaimTask');
            continue;
          }
        }
        const plan = leasePlan(free, queues, this.o.random);
        const { entries, waitFrom } = await this.o.store.lease(this.o.workerId, plan, this.o.inFlightLimits);
        this.takeAhead(entries);
        // the queues are drained: asking again now would only come back empty, so wait for a new entry
        if (waitFrom) {
          // bounded by the next paused-set read too, so a resumed queue's backlog is seen within a second
          const until = Math.min(nextReclaimAt, this.pausedReadAt + PAUSED_REFRESH_MS);
          const waitMs = Math.max(1, Math.min(this.o.blockMs, until - this.o.now()));
          await this.o.store.waitForWork(this.o.blocking, waitFrom, waitMs);
        }
        failures = 0;
      } catch (err) {
        failures++;
        this.o.log.error({ err }, 'lease failed; retrying');
        await sleep(errorBackoffMs(failures), this.stopping.signal);
      }
    }
  }

  /**
   * Commits the lease of `entries` and starts their calls without holding up the lease loop: under load, the next
   * lease goes out while this one is being committed, instead of one lease round trip and one commit round trip
   * per turn. Their slots stay taken meanwhile. A failed commit leaves the entries leased to this worker, without
   * calls, until their leases expire and a worker reclaims them; the loop backs off before its next lease, as after
   * a failed lease, so that failing commits do not lease the queue empty.
   */
  private takeAhead(entries: readonly LeasedEntry[]): void {
    if (entries.length === 0) return;
    this.reserved += entries.length;
    const done: Promise<void> = this.take(entries, 'LeaseTask')
      .then(() => {
        this.commitFailures = 0;
      })
      .catch((err: unknown) => {
        this.commitFailures++;
        this.o.log.error(
          { err, failures: this.commitFailures },
          'committing a lease failed; its tasks wait for reclaim',
        );
      })
      .finally(() => {
        this.reserved -= entries.length;
        this.takes.delete(done);
        this.slotFreed?.();
      });
    this.takes.add(done);
  }

  /** Parked tasks of clients that have room again (a raised tier, a deleted client) go back to their queues. */
  private async unpark(): Promise<void> {
    const moved = await unparkTasks(this.o.store.redis, this.o.store.keys, this.o.inFlightLimits);
    if (moved > 0) this.o.log.info({ count: moved }, 'parked tasks back on their queues');
  }

  /** The queues to lease from: all but the paused ones, as read at most PAUSED_REFRESH_MS ago. */
  private async unpausedQueues(): Promise<readonly QueueConfig[]> {
    if (this.o.now() - this.pausedReadAt >= PAUSED_REFRESH_MS) {
      this.paused = await this.o.store.pausedQueues();
      this.pausedReadAt = this.o.now();
    }
    return this.paused.size === 0 ? this.o.queues : this.o.queues.filter((q) => !this.paused.has(q.name));
  }

  /** Decides the lease for each entry read, commits them in one call, and starts the calls that won. */
  private async take(entries: readonly LeasedEntry[], kind: 'LeaseTask' | 'ReclaimTask'): Promise<void> {
    if (entries.length === 0) return;
    const now = this.o.now();
    // a reclaim can return this worker's own call, if it went too long without renewing (a stall): the claim
    // just renewed it, and the call goes on
    const taken = entries.filter((e) => !this.inflight.has(flightKey(e.queue, e.entryId)) && this.readable(e));
    const decided = taken.map((e) => {
      const { ticket, defer } = gateEntry(this.breakers, e, now, this.o.random());
      const command: TaskCommand =
        defer ??
        (kind === 'LeaseTask'
          ? { type: 'LeaseTask', data: { workerId: this.o.workerId } }
          : { type: 'ReclaimTask', data: { workerId: this.o.workerId, retry: this.queue(e.queue).retry } });
      const events = record(e.task.id, e.task.version, now, this.decideOrNothing(command, e.task, now));
      return {
        entry: e,
        events,
        ticket,
        commit: commitFor(e.task, events, { entryId: e.entryId, entryClient: e.entryClient, queue: e.queue }),
      };
    });
    let results: CommitResult[];
    try {
      // a command of its own (see runScriptArgs), written at once: nothing in flight is about these entries, which
      // this worker has just leased or reclaimed
      results = await this.o.store.commit(
        decided.map((d) => d.commit),
        this.o.workerId,
        { ownCommand: true },
      );
    } catch (err) {
      for (const d of decided) this.recordHost(d.ticket, 'ignored');
      throw err;
    }
    decided.forEach(({ entry, events, ticket }, i) => {
      const result = results[i];
      const leased = events.reduce(evolve, entry.task);
      if (result?.kind !== 'ok') {
        this.o.log.warn({ taskId: entry.task.id, result }, 'lease not committed; another worker moved the task');
      } else if (leased.status === 'active' && entry.request) {
        this.startCall(entry, leased, entry.request, ticket);
        return;
      } else if (events[0]?.type === 'deferred') {
        this.o.log.debug({ taskId: entry.task.id, ...events[0].data }, 'task deferred by its host circuit breaker');
      }
      this.recordHost(ticket, 'ignored');
    });
  }

  /** An unreadable task stays leased, untouched, for a build that can read it (see Snapshot). */
  private readable(e: LeasedEntry): boolean {
    if (e.unreadable) this.o.log.error({ taskId: e.task.id, reason: e.unreadable }, 'cannot read task; leaving it');
    return !e.unreadable;
  }

  /** An entry for a task that is no longer pending (stale or missing) is acknowledged without events. */
  private decideOrNothing(command: TaskCommand, task: Task, now: number): TaskEvent[] {
    try {
      return decide(command, task, now);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      this.o.log.warn({ taskId: task.id, status: task.status, err: err.message }, 'dropping a stale ready entry');
      return [];
    }
  }

  /** Tells the host's breaker what an admitted call said; a call that was not made is `ignored`. */
  private recordHost(ticket: BreakerTicket | null, outcome: HostOutcome): void {
    if (ticket) this.breakers?.record(ticket, outcome, this.o.now());
  }

  private startCall(entry: LeasedEntry, task: Task, request: HttpRequestSpec, ticket: BreakerTicket | null): void {
    const controller = new AbortController();
    const flight: InFlight = {
      queue: entry.queue,
      entryId: entry.entryId,
      taskId: task.id,
      controller,
      done: Promise.resolve(),
      calling: true,
      ticket,
    };
    const key = flightKey(entry.queue, entry.entryId);
    this.inflight.set(key, flight);
    this.calls++;
    flight.done = this.call(entry, task, request, flight)
      .catch((err) => this.o.log.error({ err, taskId: task.id }, 'attempt could not be recorded'))
      .finally(() => {
        this.callEnded(flight);
        this.hostAnswered(flight, 'ignored');
        if (this.inflight.get(key) === flight) this.inflight.delete(key);
      });
  }

  /** Once per call: the first verdict on its host counts. */
  private hostAnswered(flight: InFlight, outcome: HostOutcome): void {
    const { ticket } = flight;
    flight.ticket = null;
    this.recordHost(ticket, outcome);
  }

  private callEnded(flight: InFlight): void {
    if (!flight.calling) return;
    flight.calling = false;
    this.calls--;
    this.slotFreed?.();
  }

  private async call(entry: LeasedEntry, task: Task, request: HttpRequestSpec, flight: InFlight) {
    const { controller } = flight;
    const queue = this.queue(task.queue);
    const response = await this.o.dispatch(request, cloudTasksHeaders(task), queue.attemptTimeoutMs, controller.signal);
    this.hostAnswered(flight, controller.signal.aborted ? 'ignored' : hostOutcome(response));
    // the lease is kept (and extended) until the result is committed, but the slot is free for the next call
    this.callEnded(flight);
    if (controller.signal.aborted) {
      this.o.log.warn({ taskId: task.id, reason: String(controller.signal.reason) }, 'attempt abandoned');
      return;
    }
    await this.record(entry, task, response, queue);
  }

  /** Commits the attempt's outcome, retrying through Redis errors for as long as the lease is held. */
  private async record(entry: LeasedEntry, task: Task, response: AttemptResponse, queue: QueueConfig) {
    const scope = { taskId: task.id, queue: task.queue, attempt: task.attempts };
    for (let failures = 0; ; failures++) {
      const now = this.o.now();
      const command: TaskCommand = {
        type: 'RecordAttempt',
        data: {
          workerId: this.o.workerId,
          attempt: task.attempts,
          response,
          retry: queue.retry,
          random: this.o.random(),
        },
      };
      const events: Recorded[] = record(task.id, task.version, now, decide(command, task, now));
      try {
        const result = await this.completions.commit(
          commitFor(task, events, { entryId: entry.entryId, entryClient: entry.entryClient, queue: entry.queue }),
        );
        if (result.kind === 'ok') {
          this.o.log.info(
            { ...scope, status: response.status, latencyMs: response.latencyMs, outcome: events.at(-1)?.type },
            'attempt recorded',
          );
        } else {
          this.o.log.warn({ ...scope, result }, 'attempt result rejected: this worker no longer holds the lease');
        }
        return;
      } catch (err) {
        if (
          !(err instanceof StorageError) ||
          entry.entryId === '' ||
          !this.inflight.has(flightKey(entry.queue, entry.entryId))
        )
          throw err;
        if (failures > 50) throw err;
        this.o.log.warn({ ...scope, err: err.message }, 'recording attempt failed; retrying');
        await sleep(errorBackoffMs(failures));
      }
    }
  }

  /** One script call per queue renews every lease this worker holds; a lost lease aborts its call. */
  private async extendLeases(): Promise<void> {
    const byQueue = new Map<string, string[]>();
    for (const f of this.inflight.values()) byQueue.set(f.queue, [...(byQueue.get(f.queue) ?? []), f.entryId]);
    for (const [queue, ids] of byQueue) {
      try {
        const lost = await this.o.store.extendLeases(this.o.workerId, queue, ids);
        for (const id of lost) {
          const f = this.inflight.get(flightKey(queue, id));
          if (!f) continue; // finished and acknowledged while the extension was on its way
          this.o.log.warn({ taskId: f.taskId }, 'lease lost to another worker; abandoning the call');
          f.controller.abort('lease lost');
        }
      } catch (err) {
        this.o.log.error({ err }, 'extending leases failed');
      }
    }
  }
}

/** The headers Cloud Tasks sends, so handlers written for it keep working. */
export const cloudTasksHeaders = (task: Task): Record<string, string> => ({
  'X-CloudTasks-QueueName': task.queue,
  'X-CloudTasks-TaskName': task.id,
  'X-CloudTasks-TaskRetryCount': String(task.attempts - 1),
  'X-CloudTasks-TaskExecutionCount': String(task.executions),
  'X-CloudTasks-TaskETA': (task.scheduleTime / 1000).toFixed(3),
});
