import type { Redis } from 'ioredis';
import { DomainError } from '../../domain/task/errors.ts';
import type { Recorded } from '../../domain/task/events.ts';
import { fold } from '../../domain/task/evolve.ts';
import { type HttpRequestSpec, initialTask, type Task } from '../../domain/task/task.ts';
import type { HeaderCipher } from '../crypto/header-cipher.ts';
import { decodeHistory, decodeMaskedRequest, decodeRequest, encodeEvent, encodeRequest } from './codec.ts';
import type { InFlightLimits } from './in-flight.ts';
import type { Keys } from './keys.ts';
import type { TaskCommit } from './placement.ts';
import { runScript, runScriptArgs, scripts } from './scripts/index.ts';

/**
 * A task as stored. `unreadable` says why its history could not be decoded (corrupt, or written by a newer
 * build with a newer event schema) or, for a lease, why its secret headers could not be decrypted (ENCRYPTION_KEY
 * missing or wrong); such a task is left alone for a process that can read it.
 */
export type Snapshot = Readonly<{
  task: Task;
  events: Recorded[];
  /** Secret header values masked, except in a lease (the worker dispatches it): there they are opened. */
  request: HttpRequestSpec | null;
  unreadable?: string;
}>;
/** `entryClient`: the client tag on the ready entry ('' = none), which the lease counted in flight by. */
export type LeasedEntry = Snapshot & Readonly<{ queue: string; entryId: string; entryClient: string }>;
export type LeaseResult = Readonly<{ entries: LeasedEntry[]; waitFrom: ReadonlyMap<string, string> | null }>;
export type CommitResult =
  | Readonly<{ kind: 'ok' }>
  | Readonly<{ kind: 'conflict'; current: number }>
  | Readonly<{ kind: 'lease-lost' }>;
/** A finished task's removal: its expunged event, decided on version `expected`. */
export type ExpungeCommit = Readonly<{ taskId: string; expected: number; event: Recorded }>;

/** Redis failed or timed out: the outcome of a write is unknown, a caller should retry later (HTTP 503). */
export class StorageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/** Turns a Redis failure inside `op` into a StorageError; the caller's own errors pass through unchanged. */
export const guardStorage = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
  try {
    return await op();
  } catch (err) {
    if (err instanceof StorageError || err instanceof DomainError) throw err;
    throw new StorageError(`redis: ${what} failed: ${(err as Error).message}`, { cause: err });
  }
};

/** Reads get the request with its secret header values masked; only a lease (to dispatch) opens them. */
type RequestDecoder = (taskId: string, raw: string) => HttpRequestSpec | null;
const masked: RequestDecoder = (_taskId, raw) => decodeMaskedRequest(raw);

const snapshot = (taskId: string, history: string, request: string, decode = masked): Snapshot => {
  try {
    const events = decodeHistory(taskId, history);
    return { task: fold(taskId, events), events, request: decode(taskId, request) };
  } catch (err) {
    return { task: initialTask(taskId), events: [], request: null, unreadable: (err as Error).message };
  }
};

type RawEntry = [number, string, string, string, string, string, string];

/**
 * The task ledger and work queues on Redis. Every write goes through the `commit` script: per task, atomic
 * and checked against the version the events were decided on. Reads return snapshots that callers fold.
 */
export class RedisTaskStore {
  readonly redis: Redis;
  readonly keys: Keys;

  /** Seals secret header values on write; null stores them as given (ENCRYPTION_KEY not set). */
  readonly #cipher: HeaderCipher | null;
  readonly #opened: RequestDecoder;

  constructor(redis: Redis, keys: Keys, options: Readonly<{ cipher?: HeaderCipher | null }> = {}) {
    this.redis = redis;
    this.keys = keys;
    this.#cipher = options.cipher ?? null;
    this.#opened = (taskId, raw) => decodeRequest(raw, taskId, this.#cipher);
  }

  /** Creates the worker group on each ready stream (from the stream's start, so nothing enqueued is missed). */
  async ensureQueues(queues: readonly string[]): Promise<void> {
    for (const queue of queues) {
      try {
        await this.redis.xgroup('CREATE', this.keys.ready(queue), this.keys.workerGroup, '0', 'MKSTREAM');
      } catch (err) {
        if (!String(err).includes('BUSYGROUP')) throw err;
      }
    }
  }

  /**
   * Applies each commit atomically and independently; one task's conflict does not stop the others.
   * `consumer` is the worker whose lease fenced commits must still hold. `ownCommand`: see runScriptArgs (for
   * commits of new tasks, which no command in flight can be about).
   */
  async commit(
    commits: readonly TaskCommit[],
    consumer = '',
    { ownCommand = false }: Readonly<{ ownCommand?: boolean }> = {},
  ): Promise<CommitResult[]> {
    const n = commits.length;
    if (n === 0) return [];
    // laid out once as EVALSHA takes them: numkeys, 2 + 2n keys, 7 + 12n values (see commit.lua)
    const args = new Array<string>(3 + 2 * n + 7 + 12 * n);
    args[0] = String(2 + 2 * n);
    args[1] = this.keys.events;
    args[2] = this.keys.due;
    let a = 3 + 2 * n;
    args[a++] = this.keys.workerGroup;
    args[a++] = consumer;
    args[a++] = this.keys.wake;
    args[a++] = String(n);
    args[a++] = this.keys.inFlight;
    args[a++] = this.keys.parkedPrefix;
    args[a++] = this.keys.parkedClients;
    for (let i = 0; i < n; i++) {
      const c = commits[i] as TaskCommit;
      args[3 + 2 * i] = this.keys.task(c.taskId);
      args[4 + 2 * i] = this.keys.ready(c.queue);
      args[a++] = c.taskId;
      args[a++] = String(c.expected);
      args[a++] = c.events.length === 1 ? encodeEvent(c.events[0] as Recorded) : c.events.map(encodeEvent).join('\n');
      args[a++] = String(c.events.length);
      args[a++] = c.request ? encodeRequest(c.request, c.taskId, this.#cipher) : '';
      args[a++] = c.entryId ?? '';
      args[a++] = c.entryId ? '1' : '0';
      args[a++] = c.ack ? '1' : '0';
      args[a++] = c.ready ? '1' : '0';
      args[a++] = c.due === null ? '' : c.due === 'remove' ? '-' : String(c.due);
      args[a++] = c.clientId;
      args[a++] = c.entryClient;
    }
    const replies = (await guardStorage('commit', () =>
      runScriptArgs(this.redis, scripts.commit, args, ownCommand),
    )) as string[];
    return replies.map(toCommitResult);
  }

  /**
   * Removes finished tasks from Redis, each atomically and independently: its expunged event goes to the ledger,
   * then its hash is deleted, only if the task is still at the version the event was decided on.
   */
  async expunge(commits: readonly ExpungeCommit[]): Promise<CommitResult[]> {
    if (commits.length === 0) return [];
    const keys = [this.keys.events, ...commits.map((c) => this.keys.task(c.taskId))];
    const argv = commits.flatMap((c) => [c.taskId, c.expected, encodeEvent(c.event)]);
    const replies = (await guardStorage('expunge', () =>
      runScript(this.redis, scripts.expunge, keys, argv),
    )) as string[];
    return replies.map(toCommitResult);
  }

  async load(taskId: string): Promise<Snapshot | null> {
    const [history, request] = await guardStorage('load', () => this.redis.hmget(this.keys.task(taskId), 'h', 'r'));
    if (!history) return null;
    const snap = snapshot(taskId, history, request ?? '');
    if (snap.unreadable) throw new Error(`task ${taskId} cannot be read: ${snap.unreadable}`);
    return snap;
  }

  async pausedQueues(): Promise<Set<string>> {
    return new Set(await guardStorage('read paused queues', () => this.redis.smembers(this.keys.paused)));
  }

  /** Pauses or resumes a queue; workers see it within a second. */
  async setPaused(queue: string, paused: boolean): Promise<void> {
    await guardStorage('pause', () =>
      paused ? this.redis.sadd(this.keys.paused, queue) : this.redis.srem(this.keys.paused, queue),
    );
  }

  /** Many tasks in one round trip, in order; null for a task that is gone or cannot be read. */
  async loadMany(taskIds: readonly string[]): Promise<(Snapshot | null)[]> {
    if (taskIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of taskIds) pipeline.hmget(this.keys.task(id), 'h', 'r');
    const replies = await guardStorage('load', async () => (await pipeline.exec()) ?? []);
    return taskIds.map((id, i) => {
      const [err, fields] = replies[i] ?? [null, null];
      if (err) throw new StorageError(`redis: load failed: ${err.message}`, { cause: err });
      const [history, request] = (fields ?? [null, null]) as [string | null, string | null];
      if (!history) return null;
      const snap = snapshot(id, history, request ?? '');
      return snap.unreadable ? null : snap;
    });
  }

  /**
   * Leases up to the sum of quotas, in plan order (see `leasePlan`). When the queues held fewer, `waitFrom`
   * is where `waitForWork` must start watching so that nothing added since is missed.
   */
  async lease(
    consumer: string,
    plan: readonly { name: string; quota: number }[],
    limits: InFlightLimits = { encoded: '' },
  ): Promise<LeaseResult> {
    const queues = plan.map((p) => p.name);
    const args = [String(queues.length), ...queues.map((q) => this.keys.ready(q))];
    args.push(this.keys.workerGroup, consumer, this.keys.taskPrefix, this.keys.clientPrefix, this.keys.inFlight);
    args.push(this.keys.parkedPrefix, this.keys.parkedClients, limits.encoded, ...plan.map((p) => String(p.quota)));
    // a command of its own, written at once rather than on the auto-pipeline's next turn (the lease is on every
    // task's path). It may overtake an ack issued just before it: the lease then sees the client's in-flight count
    // one too high and may park a task, which that ack puts back at once (commit.lua)
    const raw = (await guardStorage('lease', () => runScriptArgs(this.redis, scripts.lease, args, true))) as (
      | RawEntry
      | [0, ...string[]]
    )[];
    const last = raw.at(-1);
    const drained = last?.[0] === 0;
    const entries = (drained ? raw.slice(0, -1) : raw) as RawEntry[];
    return {
      entries: entries.map((e) => toLeased(queues, e, this.#opened)),
      waitFrom: drained ? new Map(queues.map((q, i) => [q, String(last[i + 1] ?? '0-0')])) : null,
    };
  }

  /**
   * Blocks `blocking` (a connection of its own) until an entry newer than `from` reaches one of the ready
   * streams, or `blockMs` passes. Reads without a group, so it leases nothing: the caller leases next.
   */
  async waitForWork(blocking: Redis, from: ReadonlyMap<string, string>, blockMs: number): Promise<boolean> {
    const queues = [...from.keys()];
    const reply = await guardStorage('wait for work', () =>
      blocking.xread(
        'COUNT',
        1,
        'BLOCK',
        blockMs,
        'STREAMS',
        ...queues.map((q) => this.keys.ready(q)),
        ...queues.map((q) => from.get(q) ?? '$'),
      ),
    );
    return reply !== null;
  }

  /** Takes over up to `max` entries whose holder has not extended them for `minIdleMs`. */
  async reclaim(consumer: string, queues: readonly string[], minIdleMs: number, max: number): Promise<LeasedEntry[]> {
    const raw = (await guardStorage('reclaim', () =>
      runScript(
        this.redis,
        scripts.reclaim,
        queues.map((q) => this.keys.ready(q)),
        [this.keys.workerGroup, consumer, this.keys.taskPrefix, Math.ceil(minIdleMs), max],
      ),
    )) as RawEntry[];
    return raw.map((e) => toLeased(queues, e, this.#opened));
  }

  /** Renews the leases `consumer` still holds; returns the entry ids it has lost to a reclaimer. */
  async extendLeases(consumer: string, queue: string, entryIds: readonly string[]): Promise<string[]> {
    if (entryIds.length === 0) return [];
    return (await guardStorage('extend leases', () =>
      runScript(
        this.redis,
        scripts.extendLeases,
        [this.keys.ready(queue)],
        [this.keys.workerGroup, consumer, ...entryIds],
      ),
    )) as string[];
  }

  /** Tasks due by `now` (at most `limit`), and the due time of the next one after `now`. */
  async due(now: number, limit: number): Promise<{ tasks: Snapshot[]; next: number | null }> {
    const [next, raw] = (await guardStorage('read due', () =>
      runScript(this.redis, scripts.due, [this.keys.due], [now, limit, this.keys.taskPrefix]),
    )) as [string, [string, string, string][]];
    return { tasks: raw.map(([id, , history]) => snapshot(id, history, '')), next: next === '' ? null : Number(next) };
  }
}

const toCommitResult = (reply: string): CommitResult => {
  if (reply === 'OK') return { kind: 'ok' };
  if (reply === 'LEASE_LOST') return { kind: 'lease-lost' };
  return { kind: 'conflict', current: Number(reply.slice('CONFLICT:'.length)) };
};

/** A leased task is about to be dispatched: its request comes opened, or the task is unreadable (wrong key). */
const toLeased = (
  queues: readonly string[],
  [index, entryId, taskId, , history, request, entryClient]: RawEntry,
  decode: RequestDecoder,
): LeasedEntry => ({
  ...snapshot(taskId, history, request, decode),
  queue: queues[index - 1] ?? '',
  entryId,
  entryClient: entryClient ?? '',
});
