import type { Redis } from 'ioredis';
import { decide } from '../../domain/task/decide.ts';
import { record } from '../../domain/task/events.ts';
import type { Logger } from '../logging/logger.ts';
import { commitFor, type TaskCommit } from '../redis/placement.ts';
import type { RedisTaskStore } from '../redis/task-store.ts';
import { errorBackoffMs, sleep } from './sleep.ts';

export type PromoterOptions = Readonly<{
  store: RedisTaskStore;
  /** A connection of its own, subscribed to the wake channel. */
  subscriber: Redis;
  log: Logger;
  now?: () => number;
  batch?: number;
  /** Longest sleep when nothing is due, a safety net for a wake message lost during a reconnect. */
  maxSleepMs?: number;
  /**
   * Shortest time between two release cycles. When tasks fall due every millisecond, one cycle per task
   * would cost two round trips each; waiting this long lets a cycle release all that fell due meanwhile.
   * It bounds the lateness it adds: 5 ms (10 before) took the p50 lateness of tasks due every millisecond from
   * 15-17 ms to 9-12 ms on a slow 2-core machine (BENCHMARKS.md); the p99 there is set by CPU contention.
   */
  minCycleMs?: number;
}>;

/**
 * Releases scheduled tasks and retries into their ready streams when they fall due. It sleeps until the
 * next due time and is woken early by a message on the wake channel when an earlier task is scheduled,
 * so there is no polling interval to add lateness. Several promoters may run: the version check lets one
 * release each task.
 */
export class Promoter {
  private readonly o: Required<PromoterOptions>;
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private wakeAt = Number.POSITIVE_INFINITY;
  private wake: AbortController = new AbortController();
  private readonly onMessage = (_channel: string, message: string) => {
    const dueAt = Number(message);
    if (dueAt < this.wakeAt) this.wake.abort();
  };

  constructor(options: PromoterOptions) {
    this.o = { now: Date.now, batch: 500, maxSleepMs: 5000, minCycleMs: 5, ...options };
  }

  async start(): Promise<void> {
    this.o.subscriber.on('message', this.onMessage);
    await this.o.subscriber.subscribe(this.o.store.keys.wake);
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake.abort();
    await this.done;
    this.o.subscriber.off('message', this.onMessage);
    await this.o.subscriber.unsubscribe().catch(() => {});
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.wake = new AbortController();
      this.wakeAt = Number.POSITIVE_INFINITY;
      try {
        const { released, full, next } = await this.releaseDue();
        failures = 0;
        if (released > 0) this.o.log.debug({ released }, 'released due tasks');
        if (full) continue;
        const now = this.o.now();
        this.wakeAt = Math.max(next ?? now + this.o.maxSleepMs, now + this.o.minCycleMs);
        await sleep(Math.min(this.wakeAt, now + this.o.maxSleepMs) - now, this.wake.signal);
      } catch (err) {
        failures++;
        this.o.log.error({ err }, 'releasing due tasks failed; retrying');
        await sleep(errorBackoffMs(failures), this.wake.signal);
      }
    }
  }

  private async releaseDue(): Promise<{ released: number; full: boolean; next: number | null }> {
    const now = this.o.now();
    const { tasks, next } = await this.o.store.due(now, this.o.batch);
    const commits: TaskCommit[] = tasks.flatMap(({ task, unreadable }): TaskCommit[] => {
      if (unreadable) {
        this.o.log.error({ taskId: task.id, reason: unreadable }, 'cannot read due task; leaving it');
        return [];
      }
      const events = record(task.id, task.version, now, decide({ type: 'ReleaseDue', data: {} }, task, now));
      if (events.length > 0) return [commitFor(task, events)];
      if (task.status === 'scheduled' || task.status === 'retrying') return [];
      // a member whose task is no longer waiting (for instance, expunged) is dropped from the set
      return [{ ...commitFor(task, []), due: 'remove' }];
    });
    const results = await this.o.store.commit(commits);
    return {
      released: results.filter((r) => r.kind === 'ok').length,
      full: tasks.length >= this.o.batch,
      next,
    };
  }
}
