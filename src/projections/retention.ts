import type { Redis } from 'ioredis';
import type { Logger } from '../adapters/logging/logger.ts';
import { compareLedgerIds, readLedger } from '../adapters/redis/ledger.ts';
import { appendToArchive } from '../adapters/redis/ledger-archive.ts';
import { tryLock } from '../adapters/redis/lock.ts';
import type { ExpungeCommit, RedisTaskStore, Snapshot } from '../adapters/redis/task-store.ts';
import { sleep } from '../adapters/worker/sleep.ts';
import { decide } from '../domain/task/decide.ts';
import { DomainError } from '../domain/task/errors.ts';
import { record } from '../domain/task/events.ts';
import { generationsOf, genMetaKey } from './generations.ts';
import { PROJECTION_NAMES } from './index.ts';
import { activeKey } from './read-models.ts';
import { TASKS_PROJECTION, taskIndexKeys } from './task-index.ts';

export type RetentionOptions = Readonly<{
  store: RedisTaskStore;
  log: Logger;
  /** Finished tasks, and ledger entries, older than this are expunged, archived and trimmed. */
  retentionMs: number;
  /** Time between two cycles. */
  intervalMs: number;
  /** Where ledger entries are appended as NDJSON before they are trimmed; '' = no archive. */
  archiveDir: string;
  /** Tasks per expunge script call, ledger entries per archive append. */
  batchSize?: number;
  /** The retention lock lives this long without renewal; it is renewed after every batch. */
  lockMs?: number;
  now?: () => number;
}>;

export type SweepResult = Readonly<{
  /** False when another process held the retention lock, so this one did nothing. */
  ran: boolean;
  expunged: number;
  /** Tasks that changed between load and expunge; the next cycle tries them again. */
  conflicts: number;
  archived: number;
  trimmed: number;
  /** The MINID the ledger was trimmed to, or null when nothing allowed a trim. */
  trimmedTo: string | null;
}>;

const NOT_RUN: SweepResult = { ran: false, expunged: 0, conflicts: 0, archived: 0, trimmed: 0, trimmedTo: null };
const EXPUNGED_BY = 'retention';

class LockLost extends Error {}

/**
 * Removes what is older than the retention period, one cycle every `intervalMs`, in one process at a time:
 * 1. expunges finished tasks (each leaves an `expunged` event in the ledger, so none disappears silently);
 * 2. appends older ledger entries to NDJSON day files, when an archive directory is set;
 * 3. trims the ledger, never past an entry a projection generation has not applied, nor past the last archived one.
 */
export class Retention {
  readonly #o: RetentionOptions;
  readonly #batchSize: number;
  readonly #lockMs: number;
  #stopping = false;
  #wake = new AbortController();
  #loop: Promise<void> | null = null;
  #warnedArchiveOff = false;

  constructor(options: RetentionOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 500;
    this.#lockMs = options.lockMs ?? 120_000;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Ends the cycle in progress after its current batch. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const now = this.#o.now ?? Date.now;
    while (!this.#stopping) {
      try {
        const result = await this.sweep(now());
        if (result.expunged + result.archived + result.trimmed + result.conflicts > 0) {
          this.#o.log.info(result, 'retention cycle');
        }
      } catch (err) {
        this.#o.log.error({ err }, 'retention cycle failed; trying again next interval');
      }
      await sleep(this.#o.intervalMs, this.#wake.signal);
    }
  }

  /** One cycle at `now`; it does nothing when another process is running one. */
  async sweep(now: number): Promise<SweepResult> {
    const lock = await this.#acquireLock();
    if (!lock) return NOT_RUN;
    try {
      const cutoff = Math.max(0, now - this.#o.retentionMs);
      const { expunged, conflicts } = await this.#expunge(cutoff, now, lock.renew);
      const archived = this.#o.archiveDir === '' ? 0 : await this.#archive(cutoff, lock.renew);
      const trimmedTo = this.#stopping ? null : await this.#trimFloor(cutoff);
      const trimmed = trimmedTo === null ? 0 : await this.#redis.xtrim(this.#keys.events, 'MINID', '=', trimmedTo);
      return { ran: true, expunged, conflicts, archived, trimmed, trimmedTo };
    } catch (err) {
      if (!(err instanceof LockLost)) throw err;
      this.#o.log.warn('retention lock lost mid-cycle; another process carries on');
      return NOT_RUN;
    } finally {
      await lock.release();
    }
  }

  get #redis(): Redis {
    return this.#o.store.redis;
  }

  get #keys() {
    return this.#o.store.keys;
  }

  async #expunge(cutoff: number, now: number, renew: () => Promise<void>) {
    const { store } = this.#o;
    const finished = taskIndexKeys(await activeKey(this.#redis, this.#keys, TASKS_PROJECTION)).finished;
    let expunged = 0;
    let conflicts = 0;
    let cursor: FinishedCursor | null = null;
    while (!this.#stopping) {
      const page = await finishedPage(this.#redis, finished, cutoff, cursor, this.#batchSize);
      if (page.ids.length === 0) break;
      const commits = (await store.loadMany(page.ids)).flatMap((s) => expungeOf(s, now));
      for (const result of await store.expunge(commits)) {
        if (result.kind === 'ok') expunged++;
        else conflicts++;
      }
      await renew();
      cursor = page.next;
    }
    return { expunged, conflicts };
  }

  async #archive(cutoff: number, renew: () => Promise<void>): Promise<number> {
    const archivedUpTo = await this.#redis.get(this.#keys.archive);
    const start = archivedUpTo === null ? '-' : `(${archivedUpTo}`;
    let archived = 0;
    const pages = readLedger(this.#redis, this.#keys, { start, before: `${cutoff}-0` }, this.#batchSize);
    for await (const page of pages) {
      if (this.#stopping) break;
      await appendToArchive(this.#o.archiveDir, page);
      await renew();
      await this.#redis.set(this.#keys.archive, (page.at(-1) as (typeof page)[number]).ledgerId);
      archived += page.length;
    }
    return archived;
  }

  /**
   * How far the ledger may be trimmed: to the cutoff, but not past the checkpoint of any projection generation
   * (active or being rebuilt), nor past the last archived entry. Null when a generation has applied nothing yet, or
   * archiving is on and nothing is archived yet. MINID keeps the entry at the floor itself, so the archive and the
   * ledger in Redis always overlap by one entry (replay checks that overlap to find missing files).
   */
  async #trimFloor(cutoff: number): Promise<string | null> {
    let floor = `${cutoff}-0`;
    const lower = (id: string) => {
      if (compareLedgerIds(id, floor) < 0) floor = id;
    };
    for (const name of PROJECTION_NAMES) {
      const { active, building } = await generationsOf(this.#redis, this.#keys, name);
      for (const gen of building === null ? [active] : [active, building]) {
        const checkpoint = await this.#redis.hget(genMetaKey(this.#keys, name, gen), 'checkpoint');
        if (!checkpoint) return null;
        lower(checkpoint);
      }
    }
    const archived = await this.#redis.get(this.#keys.archive);
    if (this.#o.archiveDir === '' && archived !== null && !this.#warnedArchiveOff) {
      this.#warnedArchiveOff = true;
      this.#o.log.warn(
        { archivedUpTo: archived, redisKey: this.#keys.archive },
        'the ledger was archived before but LEDGER_ARCHIVE_DIR is not set here: the ledger is not trimmed past the last archived entry; set LEDGER_ARCHIVE_DIR on every worker, or delete the key to trim without an archive',
      );
    }
    if (this.#o.archiveDir !== '' || archived !== null) {
      if (archived === null) return null;
      lower(archived);
    }
    return floor;
  }

  async #acquireLock() {
    const lock = await tryLock(this.#redis, this.#keys.retentionLock, this.#lockMs);
    if (!lock) return null;
    return {
      renew: async () => {
        if (!(await lock.renew())) throw new LockLost();
      },
      release: lock.release,
    };
  }
}

/** The expunge of a finished task; nothing for a task that is not finished (the domain decides that). */
const expungeOf = (snapshot: Snapshot | null, now: number): ExpungeCommit[] => {
  // null: already expunged (the projection has not caught up yet), or unreadable by this build
  if (!snapshot) return [];
  const { task } = snapshot;
  try {
    const [event] = record(
      task.id,
      task.version,
      now,
      decide({ type: 'ExpungeTask', data: { by: EXPUNGED_BY } }, task, now),
    );
    return event ? [{ taskId: task.id, expected: task.version, event }] : [];
  } catch (err) {
    if (err instanceof DomainError) return [];
    throw err;
  }
};

/** Where a page of the `finished` index ended, and how many tasks with that same finish time were read so far. */
type FinishedCursor = Readonly<{ finishedAt: number; taskId: string; ties: number }>;

/**
 * One page of the `finished` index up to `cutoff`, after `cursor` in (finish time, task id) order, the order Redis
 * keeps a sorted set in. Paging by position instead would skip tasks, as the projection removes expunged ones from
 * the front of the set while the cycle runs. The read starts at the cursor's finish time, so it asks for as many
 * more rows as tasks with that time were already read (many finish in the same ms when commits are batched).
 */
const finishedPage = async (
  redis: Redis,
  key: string,
  cutoff: number,
  cursor: FinishedCursor | null,
  limit: number,
): Promise<{ ids: string[]; next: FinishedCursor | null }> => {
  const min = cursor ? String(cursor.finishedAt) : '-inf';
  const count = limit + (cursor?.ties ?? 0);
  const read = scored(await redis.call('ZRANGE', key, min, cutoff, 'BYSCORE', 'LIMIT', 0, count, 'WITHSCORES'));
  const rows = (cursor ? read.filter(([id, at]) => at > cursor.finishedAt || id > cursor.taskId) : read).slice(
    0,
    limit,
  );
  const last = rows.at(-1);
  if (!last) return { ids: [], next: cursor };
  const [taskId, finishedAt] = last;
  const ties =
    rows.filter(([, at]) => at === finishedAt).length + (cursor?.finishedAt === finishedAt ? cursor.ties : 0);
  return { ids: rows.map(([id]) => id), next: { finishedAt, taskId, ties } };
};

/** WITHSCORES replies come flat (RESP2) or as [member, score] pairs (RESP3). */
const scored = (reply: unknown): [string, number][] => {
  const items = reply as (string | [string, string | number])[];
  const rows: [string, number][] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (Array.isArray(item)) rows.push([item[0], Number(item[1])]);
    else rows.push([String(item), Number(items[++i])]);
  }
  return rows;
};
