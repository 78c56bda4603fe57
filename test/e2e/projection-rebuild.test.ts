import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { commitFor } from '../../src/adapters/redis/placement.ts';
import { decide } from '../../src/domain/task/decide.ts';
import { type Recorded, record } from '../../src/domain/task/events.ts';
import { fold } from '../../src/domain/task/evolve.ts';
import { type TaskStatus, TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { generationsOf, genMetaKey } from '../../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../../src/projections/index.ts';
import { STATUSES } from '../../src/projections/read-models.ts';
import { runCli } from '../support/child-cli.ts';
import { mulberry32 } from '../support/given.ts';
import { answer, startTarget } from '../support/http-target.ts';
import {
  diffSnapshots,
  expectedProjections,
  type ProjectionSnapshot,
  prefixOf,
  snapshotActive,
  snapshotPrefix,
  waitForProjections,
} from '../support/projection-state.ts';
import { startService } from '../support/service.ts';
import { redisUrl } from '../support/store.ts';

/**
 * A projection rebuilt from the ledger equals the one built incrementally, key by key, and both equal the truth
 * folded from every task's history. A randomized (seeded) workload of 5,500 tasks goes through the real API,
 * worker, promoter and projector to a real HTTP target: successes, retries, permanent failures, delays, cancels
 * and lease expiries (a "zombie" consumer leases tasks and never finishes them). Phase 1 ends quiet and is rebuilt
 * by the CLI (in small batches); in phase 2 both projections are rebuilt while traffic continues (`tasks` through
 * the admin endpoint, `usage` by the CLI), more traffic follows the switch, and the result is compared with a
 * rebuild made by Projector.beginRebuild once everything is quiet.
 * Replay a run with SEED=<the printed seed>.
 */
const SEED = Number(process.env.SEED ?? Date.now() % 2 ** 31);
console.log(`projection-rebuild workload seed: ${SEED} (replay with SEED=${SEED})`);
const random = mulberry32(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const retry = { maxRetries: 2, minBackoffMs: 20, maxBackoffMs: 100 };
const ADMIN_KEY = 'rebuild-test-admin-key';
const QUEUES = ['critical', 'default', 'low'] as const;
const CLIENTS = Array.from({ length: 7 }, (_, i) => `client-${i}`);
const BATCH = 250;
const PHASE_1_BATCHES = 12;
const PHASE_2_BATCHES = 8;
/** Traffic after the rebuilt generations serve reads, which they must keep up to date from then on. */
const AFTER_SWITCH_BATCHES = 2;
const ZOMBIE = 'zombie-worker';
const ZOMBIE_MAX_PER_PHASE = 25;

type Kind = 'ok' | 'flaky' | 'failing' | 'delayed' | 'cancel';
type Spec = { i: number; kind: Kind; queue: string; clientId: string; delay: number; param: number; id: string };

const kindAt = (r: number): Kind =>
  r < 0.5 ? 'ok' : r < 0.7 ? 'flaky' : r < 0.8 ? 'failing' : r < 0.92 ? 'delayed' : 'cancel';
const newSpec = (i: number): Spec => {
  const kind = kindAt(random());
  return {
    i,
    kind,
    queue: pick(QUEUES),
    clientId: pick(CLIENTS),
    delay: kind === 'delayed' ? pick([1, 2]) : kind === 'cancel' ? 2 : 0,
    // flaky: failed calls before a 200; failing: the status it always answers (every non-2xx is retryable)
    param: kind === 'flaky' ? pick([1, 2]) : kind === 'failing' ? pick([500, 503, 404, 400]) : 0,
    id: '',
  };
};

let service: Awaited<ReturnType<typeof startService>>;
let target: Awaited<ReturnType<typeof startTarget>>;
const specs: Spec[] = [];
const zombieLeased: string[] = [];
const cancelAnswers: number[] = [];
const histories = new Map<string, Recorded[]>();

/** What the run observed, asserted by the tests below. */
const seen = {
  phase1: { incremental: {} as Record<string, ProjectionSnapshot>, expected: {} as Record<string, ProjectionSnapshot> },
  cli: { code: null as number | null, stdout: '', stderr: '', rebuilt: {} as Record<string, ProjectionSnapshot> },
  cliGens: {} as Record<string, number>,
  phase1Ledger: 0,
  cliUnderTraffic: { code: null as number | null, stdout: '', stderr: '' },
  underTraffic: {} as Record<
    string,
    {
      from: number;
      to: number;
      ledgerAtStart: number;
      ledgerAtSwitch: number | null;
      appliedAtSwitch: number;
      tasksAtStart: number;
    }
  >,
  phase2: { live: {} as Record<string, ProjectionSnapshot>, expected: {} as Record<string, ProjectionSnapshot> },
  quietRebuild: {} as Record<string, ProjectionSnapshot>,
  leftovers: [] as string[],
  adminStatus: 0,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const enqueueBatch = async (batch: Spec[]) => {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/enqueue:batch',
    payload: {
      tasks: batch.map((s) => ({
        client_id: s.clientId,
        queue: s.queue,
        delay: s.delay,
        task: { url: `${target.url}/${s.kind}/${s.i}/${s.param}`, body: JSON.stringify({ i: s.i }) },
      })),
    },
  });
  expect(res.statusCode).toBe(200);
  const { results } = res.json() as { results: { status: string; task_id: string }[] };
  results.forEach((r, n) => {
    expect(r.status).toBe('enqueued');
    (batch[n] as Spec).id = r.task_id;
  });
  specs.push(...batch);
  // cancel the delayed tasks meant to be cancelled, while they still wait for their delay
  const cancels = await Promise.all(
    batch
      .filter((s) => s.kind === 'cancel')
      .map((s) => service.app.inject({ method: 'DELETE', url: `/v1/tasks/${s.id}` })),
  );
  cancelAnswers.push(...cancels.map((c) => c.statusCode));
};

/**
 * A second consumer that leases tasks as a worker would (the lease and its `leased` event) and then dies: it
 * never calls, never renews. The real worker must reclaim each after leaseMs, recording `lease_expired`.
 */
const startZombie = () => {
  let stopping = false;
  let taken = 0;
  const loop = (async () => {
    while (!stopping && taken < ZOMBIE_MAX_PER_PHASE) {
      const { entries } = await service.store.lease(
        ZOMBIE,
        QUEUES.map((name) => ({ name, quota: 1 })),
      );
      const at = Date.now();
      const mine = entries.filter((e) => !e.unreadable && e.task.status === 'pending');
      const commits = mine.map((e) =>
        commitFor(
          e.task,
          record(e.task.id, e.task.version, at, decide({ type: 'LeaseTask', data: { workerId: ZOMBIE } }, e.task, at)),
          { entryId: e.entryId, queue: e.queue },
        ),
      );
      const results = await service.store.commit(commits, ZOMBIE);
      results.forEach((r, n) => {
        if (r.kind !== 'ok') return;
        zombieLeased.push((mine[n] as (typeof mine)[number]).task.id);
        taken++;
      });
      await sleep(40);
    }
  })();
  return async () => {
    stopping = true;
    await loop;
  };
};

const runTraffic = async (batches: number, pauseMs: number, during?: (batch: number) => Promise<void>) => {
  const stopZombie = startZombie();
  for (let b = 0; b < batches; b++) {
    await enqueueBatch(Array.from({ length: BATCH }, (_, n) => newSpec(specs.length + n)));
    await during?.(b);
    await sleep(pauseMs);
  }
  await stopZombie();
};

const waitUntilFinished = async (timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  let open = specs.filter((s) => !histories.has(s.id));
  while (open.length > 0) {
    for (let n = 0; n < open.length; n += 500) {
      const chunk = open.slice(n, n + 500);
      const snaps = await service.store.loadMany(chunk.map((s) => s.id));
      snaps.forEach((snap, k) => {
        if (snap && TERMINAL_STATUSES.has(snap.task.status)) histories.set((chunk[k] as Spec).id, snap.events);
      });
    }
    open = open.filter((s) => !histories.has(s.id));
    if (open.length === 0) break;
    if (Date.now() > until) throw new Error(`${open.length} tasks did not finish, e.g. ${open[0]?.id}`);
    await sleep(200);
  }
};

const ledgerState = async () => {
  const [last] = (await service.redis.xrevrange(service.keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return { lastId: last?.[0] ?? '', length: await service.redis.xlen(service.keys.events) };
};

const snapshotAll = async () => {
  const out: Record<string, ProjectionSnapshot> = {};
  const gens: Record<string, number> = {};
  for (const name of PROJECTION_NAMES) {
    const { gen, keys } = await snapshotActive(service.redis, service.keys, name);
    out[name] = keys;
    gens[name] = gen;
  }
  return { snapshots: out, gens };
};

const adminRebuild = (name: string) =>
  service.app.inject({
    method: 'POST',
    url: `/admin/projections/${name}/rebuild`,
    headers: { 'x-admin-key': ADMIN_KEY },
  });

beforeAll(async () => {
  const calls = new Map<string, number>();
  target = await startTarget((req, res) => {
    const [, kind, , param] = req.path.split('/');
    const n = (calls.get(req.path) ?? 0) + 1;
    calls.set(req.path, n);
    if (kind === 'flaky') return answer(res, n <= Number(param) ? 500 : 200);
    if (kind === 'failing') return answer(res, Number(param), 'no');
    return answer(res, 200, 'ok');
  });
  service = await startService({ retry, concurrency: 40, leaseMs: 1500, adminKey: ADMIN_KEY, projectorLockMs: 3000 });

  // phase 1: traffic, then quiet; the incremental generation is compared with the truth and with a CLI rebuild
  await runTraffic(PHASE_1_BATCHES, 50);
  await waitUntilFinished(40_000);
  await waitForProjections(service.redis, service.keys);
  seen.phase1.incremental = (await snapshotAll()).snapshots;
  const phase1Ledger = await ledgerState();
  seen.phase1Ledger = phase1Ledger.length;
  seen.phase1.expected = expectedProjections(histories, phase1Ledger);

  // small batches (the service's projector takes 500), so the two generations cut the ledger at different places
  const cliStarted = Date.now();
  const cli = await runCli(['projections', 'rebuild'], {
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefixOf(service.keys),
    PROJECTION_BATCH_SIZE: '101',
  });
  console.log(`CLI rebuild of ${phase1Ledger.length} events took ${Date.now() - cliStarted} ms`);
  seen.cli = { ...cli, rebuilt: {} };
  await waitForProjections(service.redis, service.keys);
  const afterCli = await snapshotAll();
  seen.cli.rebuilt = afterCli.snapshots;
  seen.cliGens = afterCli.gens;

  // phase 2: both projections are rebuilt while tasks keep coming and running: `tasks` through the admin endpoint
  // (the service's running projector builds it beside the active generation), `usage` by the CLI in its own
  // process, while the service's projector keeps applying the generation it replaces
  const watchers: Promise<void>[] = [];
  const cliRuns: ReturnType<typeof runCli>[] = [];
  const watch = async (name: string) => {
    const entry = seen.underTraffic[name] as (typeof seen.underTraffic)[string];
    const until = Date.now() + 40_000;
    while (Date.now() < until) {
      const gens = await generationsOf(service.redis, service.keys, name);
      if (gens.active === entry.to) {
        entry.ledgerAtSwitch = await service.redis.xlen(service.keys.events);
        entry.appliedAtSwitch = Number(await service.redis.hget(genMetaKey(service.keys, name, entry.to), 'applied'));
        return;
      }
      await sleep(20);
    }
  };
  await runTraffic(PHASE_2_BATCHES, 150, async (b) => {
    if (b !== 1) return;
    for (const name of PROJECTION_NAMES) {
      const before = await generationsOf(service.redis, service.keys, name);
      const ledgerAtStart = await service.redis.xlen(service.keys.events);
      let to: number;
      if (name === 'tasks') {
        const res = await adminRebuild(name);
        seen.adminStatus = res.statusCode;
        to = res.json().generation;
      } else {
        to = before.active + 1;
        cliRuns.push(
          runCli(['projections', 'rebuild', name], { REDIS_URL: redisUrl(), REDIS_PREFIX: prefixOf(service.keys) }),
        );
      }
      seen.underTraffic[name] = {
        from: before.active,
        to,
        ledgerAtStart,
        ledgerAtSwitch: null,
        appliedAtSwitch: 0,
        tasksAtStart: specs.length,
      };
      watchers.push(watch(name));
    }
  });
  await Promise.all(watchers);
  seen.cliUnderTraffic = (await Promise.all(cliRuns))[0] ?? seen.cliUnderTraffic;
  await runTraffic(AFTER_SWITCH_BATCHES, 100);
  await waitUntilFinished(40_000);
  await waitForProjections(service.redis, service.keys);
  const live = await snapshotAll();
  seen.phase2.live = live.snapshots;
  seen.phase2.expected = expectedProjections(histories, await ledgerState());
  // the generations replaced by a rebuild are gone: all their keys
  for (const name of PROJECTION_NAMES) {
    for (let gen = 1; gen < (live.gens[name] ?? 0); gen++) {
      const left = await snapshotPrefix(service.redis, service.keys.projectionGen(name, gen));
      seen.leftovers.push(...Object.keys(left).map((k) => `${name} g${gen} ${k}`));
    }
  }
  const groups = (await service.redis.xinfo('GROUPS', service.keys.events)) as unknown[][];
  // projectors read the ledger from their checkpoints: no consumer group is ever made on it
  seen.leftovers.push(...groups.map((g) => `group ${String(g[g.indexOf('name') + 1])}`));

  // the reference: the same projections rebuilt from scratch by the service's projector while nothing moves
  for (const name of PROJECTION_NAMES) await service.projector.beginRebuild(name);
  await waitForProjections(service.redis, service.keys);
  const quiet = await snapshotAll();
  for (const name of PROJECTION_NAMES) expect(quiet.gens[name]).toBe((live.gens[name] ?? 0) + 1);
  seen.quietRebuild = quiet.snapshots;
  const ledger = await ledgerState();
  console.log(
    `${specs.length} tasks, ${ledger.length} ledger events, ${zombieLeased.length} zombie leases; rebuilds under traffic:`,
    JSON.stringify(seen.underTraffic),
  );
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await target?.close();
});

const expectSame = (name: string, expected: ProjectionSnapshot | undefined, actual: ProjectionSnapshot | undefined) => {
  expect(Object.keys(expected ?? {}).length, `${name}: expected keys`).toBeGreaterThan(10);
  expect(diffSnapshots(expected ?? {}, actual ?? {}), name).toEqual([]);
};

describe('projections rebuilt from the ledger equal the incrementally built ones', () => {
  test('the workload ran: every task finished, with retries, failures, delays, cancels and lease expiries', () => {
    expect(specs.length).toBe((PHASE_1_BATCHES + PHASE_2_BATCHES + AFTER_SWITCH_BATCHES) * BATCH);
    expect(histories.size).toBe(specs.length);
    const statusOf = (s: Spec) => fold(s.id, histories.get(s.id) ?? []).status;
    const byKind = (kind: Kind) => specs.filter((s) => s.kind === kind);
    const zombied = new Set(zombieLeased);
    // a lease taken by the zombie counts as an attempt, which may use up a flaky task's last retry
    for (const s of byKind('ok')) expect({ id: s.id, status: statusOf(s) }).toEqual({ id: s.id, status: 'succeeded' });
    for (const s of byKind('delayed')) expect([s.id, statusOf(s)]).toEqual([s.id, 'succeeded']);
    for (const s of byKind('flaky').filter((x) => !zombied.has(x.id)))
      expect([s.id, statusOf(s)]).toEqual([s.id, 'succeeded']);
    for (const s of byKind('failing')) expect([s.id, statusOf(s)]).toEqual([s.id, 'failed']);
    for (const s of byKind('cancel')) expect([s.id, statusOf(s)]).toEqual([s.id, 'cancelled']);
    expect(cancelAnswers.every((c) => c === 200)).toBe(true);
    for (const kind of ['ok', 'flaky', 'failing', 'delayed', 'cancel'] as const)
      expect(byKind(kind).length).toBeGreaterThan(100);

    const events = [...histories.values()].flat();
    expect(events.filter((e) => e.type === 'retry_scheduled').length).toBeGreaterThan(1000);
    expect(events.filter((e) => e.type === 'released' && e.data.from === 'scheduled').length).toBeGreaterThan(300);
    // every task the zombie leased was reclaimed from it by the real worker
    expect(zombieLeased.length).toBeGreaterThanOrEqual(10);
    for (const id of zombieLeased) {
      const expired = (histories.get(id) ?? []).filter((e) => e.type === 'lease_expired');
      expect({ id, expiredFrom: expired.map((e) => e.type === 'lease_expired' && e.data.workerId) }).toEqual({
        id,
        expiredFrom: [ZOMBIE],
      });
    }
  });

  test('phase 1: the incrementally built projections equal the truth folded from every history', () => {
    for (const name of PROJECTION_NAMES) expectSame(name, seen.phase1.expected[name], seen.phase1.incremental[name]);
  });

  test('phase 1: `projections rebuild` (CLI) builds generation 2 of each, equal key by key to generation 1', () => {
    expect({ code: seen.cli.code, stderr: seen.cli.stderr }).toEqual({ code: 0, stderr: '' });
    for (const name of PROJECTION_NAMES) {
      // it switched reads over only once the new generation had applied the whole (quiet) ledger
      const all = seen.phase1Ledger.toLocaleString('en-US');
      expect(seen.cli.stdout).toContain(
        `${name}: [${'#'.repeat(30)}] 100% ${all}/${all} events generation 2 serves reads`,
      );
      expect(seen.cliGens[name]).toBe(2);
      expectSame(name, seen.phase1.incremental[name], seen.cli.rebuilt[name]);
    }
  });

  test('phase 2: both rebuilds started under traffic, kept up with it, and switched reads over', () => {
    expect(seen.adminStatus).toBe(202);
    expect(seen.cliUnderTraffic).toMatchObject({ code: 0, stderr: '' });
    expect(seen.cliUnderTraffic.stdout).toContain('usage: ');
    expect(seen.cliUnderTraffic.stdout).toContain('generation 3 serves reads');
    for (const name of PROJECTION_NAMES) {
      const r = seen.underTraffic[name];
      expect(r?.from).toBe(2);
      expect(r?.to).toBe(3);
      expect(r?.ledgerAtSwitch, `${name} switched`).not.toBeNull();
      // events were appended to the ledger while the new generation was being built
      expect(r?.ledgerAtSwitch ?? 0).toBeGreaterThan(r?.ledgerAtStart ?? Number.POSITIVE_INFINITY);
      // reads switched only once the new generation had caught up with at least the ledger of its start
      expect(r?.appliedAtSwitch ?? 0).toBeGreaterThanOrEqual(r?.ledgerAtStart ?? Number.POSITIVE_INFINITY);
      // and tasks were still being enqueued after it started
      expect(specs.length - (r?.tasksAtStart ?? specs.length)).toBeGreaterThanOrEqual(BATCH * 6);
    }
  });

  test('phase 2: the generation rebuilt under traffic equals the truth and a rebuild made once all is quiet', () => {
    for (const name of PROJECTION_NAMES) {
      expectSame(name, seen.phase2.expected[name], seen.phase2.live[name]);
      expectSame(name, seen.phase2.live[name], seen.quietRebuild[name]);
    }
  });

  test('replaced generations leave no keys and no consumer groups behind', () => {
    expect(seen.leftovers).toEqual([]);
  });

  test('the read API agrees with the histories: counts per queue and per client', async () => {
    const truth = (pick: (s: Spec) => string) => {
      const out = new Map<string, Record<TaskStatus, number>>();
      for (const s of specs) {
        const counts =
          out.get(pick(s)) ?? (Object.fromEntries(STATUSES.map((x) => [x, 0])) as Record<TaskStatus, number>);
        counts[fold(s.id, histories.get(s.id) ?? []).status as TaskStatus]++;
        out.set(pick(s), counts);
      }
      return out;
    };
    const res = await service.app.inject({ method: 'GET', url: '/v1/queues' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      queues: { name: string; counts: Record<string, number> }[];
      projections: { lag: number }[];
    };
    const byQueue = truth((s) => s.queue);
    expect(body.queues.map((q) => q.name)).toEqual([...QUEUES].sort());
    for (const q of body.queues)
      expect({ queue: q.name, counts: q.counts }).toEqual({ queue: q.name, counts: byQueue.get(q.name) });
    expect(body.projections.map((p) => p.lag)).toEqual(PROJECTION_NAMES.map(() => 0));

    const byClient = truth((s) => s.clientId);
    for (const clientId of CLIENTS) {
      const stats = await service.app.inject({ method: 'GET', url: `/v1/clients/${clientId}/stats?days=2` });
      expect(stats.statusCode).toBe(200);
      const { counts, days } = stats.json() as { counts: Record<string, number>; days: Record<string, number>[] };
      expect(counts).toEqual(byClient.get(clientId));
      const mine = specs.filter((s) => s.clientId === clientId);
      const enqueued = days.reduce((sum, d) => sum + (d.enqueued ?? 0), 0);
      const attempts = days.reduce((sum, d) => sum + (d.attempts ?? 0), 0);
      expect(enqueued).toBe(mine.length);
      expect(attempts).toBe(
        mine.reduce((sum, s) => sum + (histories.get(s.id) ?? []).filter((e) => e.type === 'attempted').length, 0),
      );
    }
  });
});
