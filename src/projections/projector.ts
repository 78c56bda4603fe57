import type { Redis } from 'ioredis';
import type { Logger } from '../adapters/logging/logger.ts';
import { decodeHistory } from '../adapters/redis/codec.ts';
import type { Keys } from '../adapters/redis/keys.ts';
import { compareLedgerIds, type LedgerEvent, ledgerEvent, ledgerStart } from '../adapters/redis/ledger.ts';
import { heldLock, type Lock, newLockToken, tryLock } from '../adapters/redis/lock.ts';
import { runScriptArgs, scripts } from '../adapters/redis/scripts/index.ts';
import { sleep } from '../adapters/worker/sleep.ts';
import type { Recorded } from '../domain/task/events.ts';
import { coalesce } from './coalesce.ts';
import { abandon, dropGeneration, generationsOf, genMetaKey, startRebuild, switchTo } from './generations.ts';
import type { PlanContext, Projection, Write } from './projection.ts';

export type ProjectorOptions = Readonly<{
  redis: Redis;
  /** For the blocking wait on new ledger entries; not shared with other blocking readers. */
  blocking: Redis;
  keys: Keys;
  projections: readonly Projection[];
  log: Logger;
  /** Events per batch: one read, one planning read and one write script per batch. */
  batchSize?: number;
  /** A generation's lock lives this long without renewal; a killed projector's work is taken over after it. */
  lockMs?: number;
  idleWaitMs?: number;
  /** How long to let a partial batch fill before the next step (default 25 ms). */
  gatherMs?: number;
  /** How long a generation replaced by a rebuild is kept for reads that began before the switch. */
  retiredGraceMs?: number;
  /** Work only on these generations (the rebuild CLI), instead of every active and building one. */
  only?: Readonly<{ name: string; gen: number }>;
}>;

/** What `#apply` answers instead of a count of events applied. */
const LOCK_LOST = -1;
const REREAD = -2;

type Held = {
  lock: Lock;
  renewedAt: number;
  /** Whether the checkpoint was compared with the ledger's oldest entry since the lock was taken. */
  startChecked: boolean;
  /** The checkpoint as this holder last wrote or read it; null: read it from Redis (the script checks it anyway). */
  checkpoint: string | null;
};

/** What one projection-apply call writes: see the script's header. */
type ApplyCall = Readonly<{
  checkpoint: string;
  next: string;
  firstRead: string;
  applied: number;
  read: number;
  writes: readonly Write[];
}>;

type RawEntry = [string, string[]];

/** Ledger entries read after one checkpoint: every id read, and the events decoded from them. */
type Read = Readonly<{ ids: readonly string[]; events: readonly LedgerEvent[] }>;

/**
 * Applies the ledger to every projection, batch by batch. Any number of processes run one; for each generation
 * of each projection only the holder of its lock applies, and each batch is one atomic script that checks the
 * lock and the checkpoint, writes and advances the checkpoint. The checkpoint is the read position: a batch is
 * the entries after it (XRANGE), so a process killed mid-batch leaves either the whole batch or nothing, and the
 * next holder reads the same entries again. Projections at the same checkpoint share one read.
 */
export class Projector {
  readonly #o: ProjectorOptions;
  readonly #batchSize: number;
  readonly #lockMs: number;
  readonly #idleWaitMs: number;
  readonly #held = new Map<string, Held>();
  readonly #triedAt = new Map<string, number>();
  /** Generations whose last read found nothing new: a rebuilt one in this set has caught up. */
  readonly #caughtUp = new Set<string>();
  /** Set from the options, or by `beginRebuild(name, { focus: true })`. */
  #only: ProjectorOptions['only'];
  readonly #retiredGraceMs: number;
  readonly #gatherMs: number;
  /** The newest ledger id this process has read: the idle wait watches for entries after it. */
  #lastSeen = '$';
  #stopping = false;
  #loop: Promise<void> | null = null;

  constructor(options: ProjectorOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 500;
    this.#lockMs = options.lockMs ?? 10_000;
    this.#idleWaitMs = options.idleWaitMs ?? 1000;
    this.#only = options.only;
    this.#retiredGraceMs = options.retiredGraceMs ?? 5000;
    this.#gatherMs = options.gatherMs ?? 25;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#loop;
    await this.#releaseAll();
  }

  async #releaseAll(): Promise<void> {
    for (const held of this.#held.values()) await held.lock.release();
    this.#held.clear();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      let applied = 0;
      try {
        applied = await this.step();
        failures = 0;
      } catch (err) {
        failures++;
        this.#o.log.error({ err, failures }, 'projector step failed; retrying');
        // an entry this build cannot read (a newer schema mid-deploy) must not pin the projection to this
        // process: let go of the locks, so a process that can read it takes over
        if (failures >= 5) await this.#releaseAll();
        await sleep(500);
        continue;
      }
      if (this.#stopping) continue;
      // every batch costs the same few round trips whatever its size: under a trickle of events, wait a moment
      // for the next batch to fill instead of applying events one by one (a little lag for much less Redis CPU)
      if (applied >= this.#batchSize) continue;
      if (applied > 0) await sleep(this.#gatherMs);
      else if (this.#held.size === 0) await sleep(Math.min(this.#idleWaitMs, this.#lockMs / 3));
      else if (await this.#waitForEvents()) await sleep(this.#gatherMs);
    }
  }

  /** One pass over every generation this process may work on; returns how many events it applied. */
  async step(): Promise<number> {
    let applied = 0;
    const reads = new Map<string, Read>();
    for (const projection of this.#o.projections) {
      if (this.#only && this.#only.name !== projection.name) continue;
      const gens = await generationsOf(this.#o.redis, this.#o.keys, projection.name);
      this.#forgetRetired(projection.name, gens.active, gens.building);
      for (const [gen, at] of gens.retired) {
        if (Date.now() - at < this.#retiredGraceMs) continue;
        await dropGeneration(this.#o.redis, this.#o.keys, projection.name, gen);
        this.#o.log.info({ projection: projection.name, gen }, 'dropped a replaced generation');
      }
      const targets = this.#only ? [this.#only.gen] : [gens.active, ...(gens.building === null ? [] : [gens.building])];
      for (const gen of targets) {
        if (gen !== gens.active && gen !== gens.building) continue;
        const done = await this.#work(projection, gen, reads);
        applied += done;
        if (gen === gens.building && this.#caughtUp.has(`${projection.name}#${gen}`)) {
          if (await this.#seed(projection, gen)) await this.#switchIfCaughtUp(projection.name, gen);
        }
      }
    }
    return applied;
  }

  /** A generation replaced by a rebuild (possibly switched by another process) is no longer worked on. */
  #forgetRetired(name: string, active: number, building: number | null): void {
    for (const id of this.#held.keys()) {
      const [heldName, heldGen] = id.split('#');
      if (heldName === name && Number(heldGen) !== active && Number(heldGen) !== building) {
        this.#held.delete(id);
        this.#caughtUp.delete(id);
      }
    }
  }

  async #work(projection: Projection, gen: number, reads: Map<string, Read>): Promise<number> {
    const held = await this.#lock(projection.name, gen);
    if (!held) return 0;
    const checkpoint = await this.#checkpointOf(projection.name, gen, held);
    if (!held.startChecked) {
      // retention never trims past a generation's checkpoint, so one older than the oldest entry means the entries
      // in between are gone (an archive replay that stopped half-way): such a rebuild can never be complete
      const [oldest] = (await this.#o.redis.xrange(this.#o.keys.events, '-', '+', 'COUNT', 1)) as RawEntry[];
      if (checkpoint !== '' && oldest && compareLedgerIds(checkpoint, oldest[0]) < 0) {
        if (await this.#abandon(projection.name, gen, oldest[0])) return 0;
      }
      held.startChecked = true;
    }
    let read = reads.get(checkpoint);
    if (!read) {
      read = await this.#read(checkpoint);
      reads.set(checkpoint, read);
    }
    if (read.ids.length === 0) {
      this.#caughtUp.add(`${projection.name}#${gen}`);
      return 0;
    }
    const lastRead = read.ids.at(-1) as string;
    if (this.#lastSeen === '$' || compareLedgerIds(lastRead, this.#lastSeen) > 0) this.#lastSeen = lastRead;
    this.#caughtUp.delete(`${projection.name}#${gen}`);

    const applied = await this.#apply(projection, gen, held, read, true);
    // a batch of entries that were only skipped is progress too
    return applied === LOCK_LOST || applied === REREAD ? 0 : Math.max(applied, 1);
  }

  /**
   * Starts a rebuild of one projection, holding the new generation's lock when it is free, so this process builds
   * it (other projectors take over only if this one stops renewing). Reads switch over once it has caught up.
   */
  async beginRebuild(name: string, opts: { focus?: boolean } = {}): Promise<{ gen: number; locked: boolean }> {
    const token = newLockToken();
    const started = await startRebuild(this.#o.redis, this.#o.keys, name, { token, ms: this.#lockMs });
    if (started.locked) {
      const lock = heldLock(this.#o.redis, this.#o.keys.projectionLock(name, started.gen), token, this.#lockMs);
      this.#held.set(`${name}#${started.gen}`, this.#fresh(lock));
    }
    // a rebuild command works on the new generation only; the service's projectors keep the others
    if (opts.focus) this.#only = { name, gen: started.gen };
    return started;
  }

  /**
   * Applies events that come from outside the stream (an NDJSON archive) to a generation this process can lock:
   * in order, skipping those at or before its checkpoint, so replaying an overlapping archive counts nothing twice.
   */
  async replay(name: string, gen: number, events: readonly LedgerEvent[]): Promise<number> {
    const projection = this.#o.projections.find((p) => p.name === name);
    if (!projection) throw new Error(`no projection named ${name}`);
    const held = await this.#lock(name, gen);
    if (!held) throw new Error(`another process holds generation ${gen} of ${name}; try again once it is done`);
    let applied = 0;
    for (let i = 0; i < events.length; i += this.#batchSize) {
      const batch = events.slice(i, i + this.#batchSize);
      const done = await this.#apply(
        projection,
        gen,
        held,
        { ids: batch.map((e) => e.ledgerId), events: batch },
        false,
      );
      if (done === LOCK_LOST) throw new Error(`lost generation ${gen} of ${name} while replaying`);
      if (done === REREAD) throw new Error(`generation ${gen} of ${name} moved under the replay; run it again`);
      applied += done;
    }
    return applied;
  }

  /** Plans and applies one batch; returns the events applied, REREAD when the batch must be read again, or LOCK_LOST. */
  async #apply(projection: Projection, gen: number, held: Held, batch: Read, fromStream: boolean): Promise<number> {
    const checkpoint = await this.#checkpointOf(projection.name, gen, held);
    // an event at or before the checkpoint (an overlapping archive replay) was applied already: it is skipped
    const events = batch.events.filter((e) => compareLedgerIds(e.ledgerId, checkpoint) > 0);
    const writes = events.length > 0 ? await projection.plan(events, this.#planContext(projection.name, gen)) : [];
    const last = batch.ids.at(-1) ?? '';
    const next = compareLedgerIds(last, checkpoint) > 0 ? last : checkpoint;
    const result = await this.#commit(projection.name, gen, held, {
      checkpoint,
      next,
      firstRead: fromStream ? (batch.ids[0] ?? '') : '',
      applied: events.length,
      read: fromStream ? batch.ids.length : 0,
      writes,
    });
    if (result === 'LOCK_LOST') {
      this.#o.log.warn({ projection: projection.name, gen }, 'projection lock lost; another projector took over');
      return LOCK_LOST;
    }
    if (result !== 'OK') {
      // the checkpoint moved under this batch (another holder wrote it): read again from where it is now
      this.#o.log.warn(
        { projection: projection.name, gen, result },
        'batch not contiguous with the checkpoint; re-reading',
      );
      return REREAD;
    }
    return events.length;
  }

  async #checkpointOf(name: string, gen: number, held: Held): Promise<string> {
    held.checkpoint ??= (await this.#o.redis.hget(genMetaKey(this.#o.keys, name, gen), 'checkpoint')) ?? '';
    return held.checkpoint;
  }

  /** One projection-apply call. The holder keeps the checkpoint it wrote, saving a read per batch; on any refusal it forgets it. */
  async #commit(name: string, gen: number, held: Held, call: ApplyCall): Promise<string> {
    const { redis, keys } = this.#o;
    const args = ['3', keys.projectionLock(name, gen), genMetaKey(keys, name, gen), keys.events, held.lock.token];
    args.push(call.checkpoint, call.next, call.firstRead, String(call.applied), String(call.read));
    for (const command of coalesce(call.writes)) {
      args.push(String(command.length));
      for (const arg of command) args.push(typeof arg === 'string' ? arg : String(arg));
    }
    // a command of its own, not through the auto-pipeline (which copies a batch's thousands of arguments again):
    // the projector awaits each of its reads before this call, so nothing of its own is in flight to overtake
    const result = String(await runScriptArgs(redis, scripts.projectionApply, args, true));
    held.checkpoint = result === 'OK' ? call.next : null;
    if (result === 'LOCK_LOST') this.#held.delete(`${name}#${gen}`);
    return result;
  }

  #fresh(lock: Lock): Held {
    return { lock, renewedAt: Date.now(), startChecked: false, checkpoint: null };
  }

  /** Up to a batch of ledger entries after `checkpoint` ('' = from the start). */
  async #read(checkpoint: string): Promise<Read> {
    const from = checkpoint === '' ? '-' : `(${checkpoint}`;
    const entries = (await this.#o.redis.xrange(
      this.#o.keys.events,
      from,
      '+',
      'COUNT',
      this.#batchSize,
    )) as RawEntry[];
    return { ids: entries.map(([id]) => id), events: entries.map(([id, fields]) => ledgerEvent(id, fields)) };
  }

  /** Holds (acquiring or renewing) the lock of one generation, or returns null when another process holds it. */
  async #lock(name: string, gen: number): Promise<Held | null> {
    const id = `${name}#${gen}`;
    const now = Date.now();
    const held = this.#held.get(id);
    if (held) {
      if (now - held.renewedAt < this.#lockMs / 3) return held;
      if (await held.lock.renew()) {
        held.renewedAt = now;
        return held;
      }
      this.#held.delete(id);
      this.#o.log.warn({ projection: name, gen }, 'projection lock expired before renewal');
    }
    if (now - (this.#triedAt.get(id) ?? 0) < this.#lockMs / 3) return null;
    this.#triedAt.set(id, now);
    const lock = await tryLock(this.#o.redis, this.#o.keys.projectionLock(name, gen), this.#lockMs);
    if (!lock) return null;
    // the generation may have been switched away and dropped (its lock with it) since this step read them
    const gens = await generationsOf(this.#o.redis, this.#o.keys, name);
    if (gen !== gens.active && gen !== gens.building) {
      await lock.release();
      return null;
    }
    const fresh = this.#fresh(lock);
    this.#held.set(id, fresh);
    await this.#dropLegacyGroup(name, gen);
    this.#o.log.info({ projection: name, gen }, 'projecting');
    return fresh;
  }

  /**
   * Builds before the checkpoint became the read position read the ledger through a consumer group per generation
   * (`proj:<name>:g<gen>`), whose pending list holds an entry per event read: the new holder removes it.
   */
  async #dropLegacyGroup(name: string, gen: number): Promise<void> {
    try {
      await this.#o.redis.xgroup('DESTROY', this.#o.keys.events, `proj:${name}:g${gen}`);
    } catch {
      // no ledger yet
    }
  }

  /**
   * Before a rebuilt generation serves reads: when the ledger it was built from had been trimmed, stored tasks
   * whose every event was trimmed are placed from their own histories (`Projection.seed`), once per generation.
   * Returns false when the lock was lost on the way.
   */
  async #seed(projection: Projection, gen: number): Promise<boolean> {
    const { redis, keys, log } = this.#o;
    const held = this.#held.get(`${projection.name}#${gen}`);
    if (!held) return false;
    // kept beside the generations rather than in the generation's meta, which holds only what its events made
    const flag = `seeded:${gen}`;
    const seededFlag: Write = ['HSET', keys.projection(projection.name), flag, '1'];
    if (!projection.seed || (await redis.hget(keys.projection(projection.name), flag)) !== null) return true;
    if (!(await ledgerStart(redis, keys)).trimmed) return this.#writeOnly(projection.name, gen, held, [seededFlag]);
    const ctx = this.#planContext(projection.name, gen);
    let seeded = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.taskPrefix}*`, 'COUNT', this.#batchSize);
      cursor = next;
      const ids = found.map((key) => key.slice(keys.taskPrefix.length));
      const writes = ids.length > 0 ? await projection.seed(ids, ctx) : [];
      if (writes.length > 0 && !(await this.#writeOnly(projection.name, gen, held, writes))) return false;
      seeded += writes.length;
    } while (cursor !== '0');
    log.info({ projection: projection.name, gen, writes: seeded }, 'placed tasks whose events were all trimmed');
    return this.#writeOnly(projection.name, gen, held, [seededFlag]);
  }

  /** Applies writes that come from no ledger entry: the checkpoint stays where it is. */
  async #writeOnly(name: string, gen: number, held: Held, writes: readonly Write[]): Promise<boolean> {
    const checkpoint = await this.#checkpointOf(name, gen, held);
    const call = { checkpoint, next: checkpoint, firstRead: '', applied: 0, read: 0, writes };
    if ((await this.#commit(name, gen, held, call)) === 'OK') return true;
    this.#held.delete(`${name}#${gen}`);
    return false;
  }

  async #switchIfCaughtUp(name: string, gen: number): Promise<void> {
    const { redis, keys, log } = this.#o;
    const replaced = await switchTo(redis, keys, name, gen);
    if (replaced === 0) return;
    log.info({ projection: name, from: replaced, to: gen }, 'rebuilt projection now serves reads');
    this.#held.delete(`${name}#${replaced}`);
    this.#caughtUp.delete(`${name}#${gen}`);
  }

  /**
   * A rebuild whose next events are no longer in the ledger can never be right: it is given up (true). The active
   * generation carries on without them (false): it is all there is to read, and the error says how to mend it.
   */
  async #abandon(name: string, gen: number, oldestInLedger: string): Promise<boolean> {
    const { redis, keys, log } = this.#o;
    const gens = await generationsOf(redis, keys, name);
    if (gens.building !== gen) {
      log.error(
        { projection: name, gen, oldestInLedger },
        'events this generation has not applied were trimmed from the ledger; rebuild it with ledger replay',
      );
      return false;
    }
    this.#held.delete(`${name}#${gen}`);
    await abandon(redis, keys, name, gen);
    log.error(
      { projection: name, gen, oldestInLedger },
      'rebuild abandoned: the events after its checkpoint were trimmed from the ledger (a ledger replay stopped half-way?); run ledger replay again with every archive file',
    );
    return true;
  }

  /** Waits for a ledger entry after the last one read; true when one came. */
  async #waitForEvents(): Promise<boolean> {
    // never longer than a third of the lock's time to live, or an idle holder would lose its lock while waiting
    const reply = await this.#o.blocking.xread(
      'COUNT',
      1,
      'BLOCK',
      Math.min(this.#idleWaitMs, Math.floor(this.#lockMs / 3)),
      'STREAMS',
      this.#o.keys.events,
      this.#lastSeen,
    );
    return reply !== null;
  }

  #planContext(name: string, gen: number): PlanContext {
    const prefix = this.#o.keys.projectionGen(name, gen);
    return {
      redis: this.#o.redis,
      key: (suffix) => `${prefix}${suffix}`,
      loadHistory: (ids) => loadHistories(this.#o.redis, this.#o.keys, ids),
    };
  }
}

const loadHistories = async (redis: Redis, keys: Keys, ids: readonly string[]) => {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(keys.task(id), 'h');
  const replies = (await pipeline.exec()) ?? [];
  const out = new Map<string, Recorded[]>();
  ids.forEach((id, i) => {
    const raw = replies[i]?.[1];
    if (typeof raw !== 'string') return;
    try {
      out.set(id, decodeHistory(id, raw));
    } catch {
      // an unreadable history is left out; the task's events are skipped until a build can read them
    }
  });
  return out;
};
