import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { genMetaKey } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../../src/projections/index.ts';
import { type ChildCli, spawnCli } from '../support/child-cli.ts';
import { expectedReadModels, readGeneration, readLedger } from '../support/read-model-oracle.ts';
import { redisUrl, testStore } from '../support/store.ts';
import { Workload } from '../support/workload.ts';

/**
 * Projector processes (`node src/cli.ts projections run`, lock 1 s, batches of 50) on a backlog of many thousand
 * ledger events. The process holding the `tasks` projection's lock is SIGKILLed while it is part-way through the
 * backlog, three times over (a fresh process joins after each kill); the survivors take over, and at the end both
 * read models equal, key by key, what every task's history says, with every ledger entry applied exactly once.
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KILLS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until `done` holds; throws after `timeoutMs` with the last value. */
const until = async <T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs: number,
  what: string,
  everyMs = 5,
) => {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await sleep(everyMs);
  }
};

/** The state letter of a process from /proc (T = stopped). */
const stateOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];

/** The local TCP ports of a process's sockets: its side of each of its Redis connections. */
const localPortsOf = (pid: number): Set<number> => {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[9] && inodes.has(cols[9])) ports.add(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
};

/**
 * True when the last command the process sent on any of its Redis connections was a read of the ledger or of
 * a read model (XRANGE, HMGET): it has read a batch and not yet applied it (the apply is a script call).
 */
const midBatch = async (redis: Redis, pid: number) => {
  const ports = localPortsOf(pid);
  const clients = String(await redis.client('LIST')).split('\n');
  return clients.some((line) => {
    const port = Number(/ addr=[^ ]*:(\d+) /.exec(` ${line}`)?.[1]);
    const cmd = / cmd=(\S+)/.exec(line)?.[1];
    return ports.has(port) && (cmd === 'xrange' || cmd === 'hmget');
  });
};

/** Stops `p` between reading a batch and applying it, within a bounded number of tries; leaves it stopped. */
const freezeMidBatch = async (p: ChildCli, redis: Redis) => {
  for (let attempt = 0; attempt < 500; attempt++) {
    process.kill(p.pid, 'SIGSTOP');
    for (let i = 0; i < 100 && stateOf(p.pid) !== 'T'; i++) await sleep(1);
    if (await midBatch(redis, p.pid)) return;
    process.kill(p.pid, 'SIGCONT');
    await sleep(attempt % 4);
  }
  throw new Error('never caught the holder between reading a batch and applying it');
};

test('projectors SIGKILLed mid-backlog: the survivor takes over and the read models are exactly right', async () => {
  const ctx = testStore();
  cleanups.push(() => ctx.close());
  const { redis, keys, prefix } = ctx;
  await ctx.store.ensureQueues(['critical', 'default', 'low']);

  // the backlog, written through the commit script before any projector runs
  const w = new Workload(ctx.store, { seed: 20261127, expungeShare: 0.2 });
  await w.enqueue(1_000);
  for (let i = 0; i < 3; i++) await w.advance();
  await w.enqueue(1_000);
  for (let i = 0; i < 6; i++) await w.advance();
  const total = await redis.xlen(keys.events);
  expect(total).toBeGreaterThan(8_000);

  const projectors: ChildCli[] = [];
  const startProjector = () => {
    const p = spawnCli(['projections', 'run'], {
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: prefix,
      PROJECTION_BATCH_SIZE: '50',
      PROJECTION_LOCK_SEC: '1',
    });
    projectors.push(p);
    cleanups.push(async () => {
      if (p.alive()) process.kill(p.pid, 'SIGKILL');
      await p.exited;
    });
    return p;
  };
  const applied = async (name: string) => Number((await redis.hget(genMetaKey(keys, name, 1), 'applied')) ?? 0);
  /** The live process that took the lock of a projection last (every acquisition is logged as 'projecting'). */
  const holderOf = (name: string) => {
    let holder: { p: ChildCli; at: number } | null = null;
    for (const p of projectors.filter((x) => x.alive())) {
      for (const { line, at } of p.logs) {
        if (line.msg === 'projecting' && line.projection === name && (!holder || at >= holder.at)) holder = { p, at };
      }
    }
    return holder?.p ?? null;
  };

  startProjector();
  startProjector();

  const kills: { applied: number; midBatch: boolean }[] = [];
  for (let k = 0; k < KILLS; k++) {
    // part-way: the checkpoint has moved past another fifth of the backlog, most of it still to go
    const reached = await until(
      () => applied('tasks'),
      (n) => n >= ((k + 1) * total) / 5,
      30_000,
      `kill ${k + 1}`,
    );
    const victim = holderOf('tasks');
    if (!victim) throw new Error('no process holds the tasks projection');
    // kills 1 and 3 land mid-batch: the holder has read its next batch but not applied it. To catch it there, it is
    // frozen (SIGSTOP) and its connections looked at; if it is between batches it is let go and tried again.
    if (k !== 1) await freezeMidBatch(victim, redis);
    process.kill(victim.pid, 'SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    const atKill = await applied('tasks');
    kills.push({ applied: atKill, midBatch: k !== 1 });
    expect(atKill).toBeGreaterThanOrEqual(reached);
    expect(atKill).toBeLessThan(total - total / 10);

    startProjector();
    // the survivor takes the lock over once the dead holder's lock has expired, and carries on from its checkpoint
    await until(
      () => applied('tasks'),
      (n) => n > atKill,
      15_000,
      `takeover after kill ${k + 1}`,
    );
    const takeover = projectors.some(
      (p) =>
        p !== victim &&
        p.logs.some(({ line, at }) => at >= killedAt && line.msg === 'projecting' && line.projection === 'tasks'),
    );
    expect(takeover, 'another process logged that it took the tasks projection over').toBe(true);
  }

  // everything applied, by whichever processes are left
  const last = ((await redis.xrevrange(keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0];
  for (const name of PROJECTION_NAMES) {
    await until(
      async () => ({ checkpoint: await redis.hget(genMetaKey(keys, name, 1), 'checkpoint') }),
      (m) => m.checkpoint === last,
      30_000,
      `${name} caught up`,
    );
    // no double count and no gap: each of the ledger's entries was applied exactly once
    expect(await applied(name), name).toBe(total);
  }

  const expected = expectedReadModels(await readLedger(redis, keys), w.histories);
  expect((await readGeneration(redis, keys, 'tasks')).keys).toEqual(expected.tasks);
  expect((await readGeneration(redis, keys, 'usage')).keys).toEqual(expected.usage);
  // the backlog was realistic: tasks left live in several statuses, finished ones, expunged ones
  expect(Object.keys(expected.tasks.rec ?? {}).length).toBeGreaterThan(50);
  expect(Object.keys(expected.tasks.finished ?? {}).length).toBeGreaterThan(700);
  console.log(`projector-crash: ${total} events; kills at ${JSON.stringify(kills)}`);

  // the survivors stop cleanly on SIGTERM
  const alive = projectors.filter((p) => p.alive());
  expect(alive.length).toBe(2);
  for (const p of alive) process.kill(p.pid, 'SIGTERM');
  for (const p of alive) expect(await p.exited).toEqual({ code: 0, signal: null });
}, 90_000);
