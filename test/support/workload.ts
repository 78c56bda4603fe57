import { encodeEvent } from '../../src/adapters/redis/codec.ts';
import { commitFor, type TaskCommit } from '../../src/adapters/redis/placement.ts';
import { runScript, scripts } from '../../src/adapters/redis/scripts/index.ts';
import type { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { newTaskId } from '../../src/api/task-id.ts';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import type { TaskCommand } from '../../src/domain/task/commands.ts';
import { decide } from '../../src/domain/task/decide.ts';
import { type Recorded, record } from '../../src/domain/task/events.ts';
import { evolve } from '../../src/domain/task/evolve.ts';
import { initialTask, type Task, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { REQUEST } from './commits.ts';
import { mulberry32 } from './given.ts';

export type WorkloadOptions = Readonly<{
  seed: number;
  queues?: readonly string[];
  clients?: readonly string[];
  /** Virtual time of the first enqueue. */
  start?: number;
  /** Mean virtual time between two enqueues. */
  enqueueGapMs?: number;
  /** Longest virtual time between two commands of one task. */
  stepMs?: number;
  /** Share of finished tasks that retention then expunges. */
  expungeShare?: number;
  retry?: RetryPolicy;
}>;

type Tracked = { task: Task; events: Recorded[]; clock: number; settled: boolean };

const WORKERS = ['worker-a', 'worker-b', 'worker-c'];

/**
 * Tasks driven through the real domain and the real commit (and expunge) scripts, as the service would, on a
 * virtual clock of their own so that their events fall on several UTC days: delays, leases, successes, 5xx and
 * network errors with retries, attempts exhausted, expired leases taken over, deferrals, cancels, expunges. Seeded,
 * so a run is reproducible. `histories` holds every task's committed events, the truth the read models are checked
 * against.
 */
export class Workload {
  readonly histories = new Map<string, Recorded[]>();
  readonly #store: RedisTaskStore;
  readonly #random: () => number;
  readonly #o: Required<WorkloadOptions>;
  readonly #tasks = new Map<string, Tracked>();
  #enqueueClock: number;
  /** Events written so far (ledger entries added by this workload). */
  events = 0;

  constructor(store: RedisTaskStore, options: WorkloadOptions) {
    this.#store = store;
    this.#random = mulberry32(options.seed);
    this.#o = {
      queues: ['critical', 'default', 'low'],
      clients: ['client-a', 'client-b', 'client-c', 'client-d'],
      start: Date.UTC(2025, 0, 1, 18),
      enqueueGapMs: 60_000,
      stepMs: 3 * 3_600_000,
      expungeShare: 0,
      retry: { maxRetries: 2, minBackoffMs: 1_000, maxBackoffMs: 60_000 },
      ...options,
    };
    this.#enqueueClock = this.#o.start;
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  get unsettled(): number {
    let n = 0;
    for (const t of this.#tasks.values()) if (!t.settled) n++;
    return n;
  }

  /** Enqueues `n` new tasks in one commit call (a quarter of them delayed); their ids grow with enqueue order. */
  async enqueue(n: number): Promise<string[]> {
    const commits: TaskCommit[] = [];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      this.#enqueueClock += 1 + Math.floor(this.#random() * 2 * this.#o.enqueueGapMs);
      const at = this.#enqueueClock;
      const id = newTaskId(at);
      const delayMs = this.#random() < 0.25 ? 1_000 + Math.floor(this.#random() * 3_600_000) : 0;
      const command: TaskCommand = {
        type: 'EnqueueTask',
        data: { queue: this.#pick(this.#o.queues), clientId: this.#pick(this.#o.clients), delayMs },
      };
      const events = record(id, 0, at, decide(command, initialTask(id), at));
      commits.push(commitFor(initialTask(id), events, { request: REQUEST }));
      this.#tasks.set(id, { task: events.reduce(evolve, initialTask(id)), events, clock: at, settled: false });
      this.histories.set(id, events);
      ids.push(id);
    }
    await this.#commit(commits);
    this.events += commits.reduce((sum, c) => sum + c.events.length, 0);
    return ids;
  }

  /**
   * Gives up to `n` unsettled tasks, chosen at random, one command each: one commit call for all of them, then one
   * expunge call. Returns the number of events written.
   */
  async advance(n = Number.POSITIVE_INFINITY): Promise<number> {
    const candidates = [...this.#tasks.values()].filter((t) => !t.settled);
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j] as Tracked, candidates[i] as Tracked];
    }
    const commits: TaskCommit[] = [];
    const expunges: (string | number)[] = [];
    const expungeKeys: string[] = [];
    let written = 0;
    for (const t of candidates.slice(0, n)) {
      const { task } = t;
      const at = t.clock + Math.floor(this.#random() * this.#o.stepMs);
      if (TERMINAL_STATUSES.has(task.status)) {
        t.settled = true;
        if (this.#random() >= this.#o.expungeShare) continue;
        const events = record(task.id, task.version, at, decide(expunge, task, at));
        expunges.push(task.id, task.version, ...events.map(encodeEvent));
        expungeKeys.push(this.#store.keys.task(task.id));
        this.#track(t, events, at);
        written += events.length;
        continue;
      }
      const { command, now } = this.#nextCommand(task, at);
      const events = record(task.id, task.version, now, decide(command, task, now));
      if (events.length === 0) continue;
      commits.push(commitFor(task, events));
      this.#track(t, events, now);
      written += events.length;
    }
    await this.#commit(commits);
    if (expungeKeys.length > 0) {
      const replies = (await runScript(
        this.#store.redis,
        scripts.expunge,
        [this.#store.keys.events, ...expungeKeys],
        expunges,
      )) as string[];
      if (replies.some((r) => r !== 'OK')) throw new Error(`expunge refused: ${replies.join(', ')}`);
    }
    this.events += written;
    return written;
  }

  /** Advances every task until all are finished (and expunged, for some), at most `rounds` times. */
  async settle(rounds = 100): Promise<void> {
    for (let i = 0; i < rounds && this.unsettled > 0; i++) await this.advance();
    if (this.unsettled > 0) throw new Error(`${this.unsettled} tasks still unsettled after ${rounds} rounds`);
  }

  #track(t: Tracked, events: Recorded[], at: number) {
    t.task = events.reduce(evolve, t.task);
    t.events.push(...events);
    t.clock = at;
  }

  #nextCommand(task: Task, at: number): { command: TaskCommand; now: number } {
    const r = this.#random();
    const retry = this.#o.retry;
    switch (task.status) {
      case 'pending':
        if (r < 0.08) return { command: { type: 'CancelTask', data: { by: 'api' } }, now: at };
        // a worker turns it away: its host's circuit breaker is open
        if (r < 0.14) {
          const data = { host: 'target.example:443', reason: 'breaker open', dueAt: at + 30_000 } as const;
          return { command: { type: 'DeferTask', data }, now: at };
        }
        return { command: { type: 'LeaseTask', data: { workerId: this.#pick(WORKERS) } }, now: at };
      case 'scheduled':
      case 'retrying':
        return r < 0.1
          ? { command: { type: 'CancelTask', data: { by: 'api' } }, now: at }
          : { command: { type: 'ReleaseDue', data: {} }, now: Math.max(at, task.dueAt ?? at) };
      case 'active': {
        if (r < 0.12) {
          const other = WORKERS.filter((w) => w !== task.workerId);
          return { command: { type: 'ReclaimTask', data: { workerId: this.#pick(other), retry } }, now: at };
        }
        const outcome = this.#random();
        const status = outcome < 0.55 ? 200 : outcome < 0.75 ? 500 : outcome < 0.9 ? 503 : null;
        const latencyMs = Math.max(1, Math.round(Math.exp(this.#random() * Math.log(30_000))));
        return {
          command: {
            type: 'RecordAttempt',
            data: {
              workerId: task.workerId ?? '',
              attempt: task.attempts,
              response: { status, latencyMs, error: status === null ? 'connect ECONNREFUSED' : null },
              retry,
              random: this.#random(),
            },
          },
          now: at,
        };
      }
      default:
        throw new Error(`no command for a ${task.status} task`);
    }
  }

  async #commit(commits: readonly TaskCommit[]) {
    for (let i = 0; i < commits.length; i += 500) {
      const chunk = commits.slice(i, i + 500);
      const results = await this.#store.commit(chunk);
      const bad = results.findIndex((r) => r.kind !== 'ok');
      if (bad >= 0) throw new Error(`commit of ${chunk[bad]?.taskId} refused: ${JSON.stringify(results[bad])}`);
    }
  }
}

const expunge: TaskCommand = { type: 'ExpungeTask', data: { by: 'retention' } };
