/**
 * Side by side with BullMQ: the same redis-server build and settings (a fresh server per run, AOF everysec),
 * the same sink process (bench/sink.ts), runs alternating ours / BullMQ, medians of RUNS runs each.
 *
 *   npm run bench                      (N=50000 RUNS=3 CONCURRENCIES=50,200; writes BENCHMARKS.md)
 *   BENCH_SMOKE=1 node bench/compare.ts (300 tasks, 1 run each, prints only)
 *   SCENARIOS=latency,delay node bench/compare.ts (only those; prints only, or writes to BENCH_OUT=<file>)
 *
 * Scenarios:
 *   1. enqueue throughput: ours = POST /v1/enqueue, one task per request, 64 in flight, against
 *      `node src/main.ts` MODE=api; BullMQ = Queue.add, 50 in flight, in this process. In chunks of 1,000:
 *      ours = POST /v1/enqueue:batch (only with BATCH=1 and when the route answers), BullMQ = addBulk.
 *   2. dispatch throughput: a backlog of N tasks (ours written through the store's commit script, BullMQ
 *      through addBulk), then the worker is started (`node src/main.ts` MODE=worker, or bench/bullmq-worker.ts)
 *      with each concurrency, and timed until the sink has every task and Redis has every one finished.
 *   3. Redis memory per finished task: used_memory after the dispatch run (the worker stopped) minus the
 *      empty server's, divided by N.
 *   4. CPU µs per task of redis-server, the worker process and the sink, from /proc/<pid>/stat, from the
 *      first delivery to the last task finished (the worker's start-up is left out).
 *   5. latency at a fixed load: 1,000 tasks/s for 20 s (after 2 s not counted), enqueue call → arrival at the
 *      sink, p50/p99. Ours: POST /v1/enqueue to MODE=api, a MODE=worker process; BullMQ: Queue.add here.
 *   6. delay accuracy: 20,000 tasks due within one second, and 10,000 due evenly over 10 s, written ahead
 *      (ours through the store's commit script with a due time in ms, BullMQ addBulk with delay);
 *      lateness = arrival at the sink − due, p50/p99.
 *   In 5 and 6 the body of each counted task is the instant to measure from; the sink (/timed) subtracts it.
 *
 * Environment: N (backlog / enqueue count), ENQUEUE_N (default N), RUNS, CONCURRENCIES (comma separated),
 * TIMED_CONCURRENCY (worker concurrency in 5 and 6, default 200), BATCH=1, BENCH_SMOKE=1,
 * SCENARIOS (some of enqueue,dispatch,latency,delay; with fewer than all it leaves BENCHMARKS.md alone),
 * BENCH_OUT (writes the document to this file instead of BENCHMARKS.md, also for fewer scenarios).
 * Every process it starts (redis-servers, services, workers, sinks) ends with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { redisKeys } from '../src/adapters/redis/keys.ts';
import { commitFor, type TaskCommit } from '../src/adapters/redis/placement.ts';
import { RedisTaskStore } from '../src/adapters/redis/task-store.ts';
import { newTaskId } from '../src/api/task-id.ts';
import { decide } from '../src/domain/task/decide.ts';
import { record } from '../src/domain/task/events.ts';
import { type HttpRequestSpec, initialTask } from '../src/domain/task/task.ts';
import { projectionLags } from '../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../src/projections/index.ts';
import { freePort, type RedisServer, startRedisServer } from '../test/support/redis-server.ts';
import { cpuSeconds, endWhatWeStartOnExit, track, trackServer } from './support.ts';

// ---------------------------------------------------------------------------------------------- settings

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const SMOKE = process.env.BENCH_SMOKE === '1';
/** The issue's backlog size; DEFAULT_N is lower when the full run would not fit its time budget. */
const ISSUE_N = 50_000;
const DEFAULT_N = 50_000;

const intEnv = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name}="${raw}" must be a whole number of at least 1`);
    process.exit(2);
  }
  return n;
};
const N = intEnv('N', SMOKE ? 300 : DEFAULT_N);
const ENQUEUE_N = intEnv('ENQUEUE_N', N);
const RUNS = intEnv('RUNS', SMOKE ? 1 : 3);
const CONCURRENCIES = (process.env.CONCURRENCIES ?? '50,200').split(',').map((c) => {
  const n = Number(c);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`CONCURRENCIES="${process.env.CONCURRENCIES}" must be whole numbers separated by commas`);
    process.exit(2);
  }
  return n;
});
const BATCH = process.env.BATCH === '1';
const ALL_SCENARIOS = ['enqueue', 'dispatch', 'latency', 'delay'] as const;
type ScenarioName = (typeof ALL_SCENARIOS)[number];
const SCENARIOS = (process.env.SCENARIOS || ALL_SCENARIOS.join(',')).split(',').map((name) => {
  if (!(ALL_SCENARIOS as readonly string[]).includes(name)) {
    console.error(`SCENARIOS="${process.env.SCENARIOS}" must be some of ${ALL_SCENARIOS.join(',')}`);
    process.exit(2);
  }
  return name as ScenarioName;
});
const selected = (name: ScenarioName) => SCENARIOS.includes(name);
/** Worker concurrency of both systems in scenarios 5 and 6. */
const TIMED_CONCURRENCY = intEnv('TIMED_CONCURRENCY', 200);
/** Scenario 5: tasks offered per second, seconds measured, seconds of the same load before, not counted. */
const LATENCY_RATE = SMOKE ? 200 : 1000;
const LATENCY_SECONDS = SMOKE ? 1 : 20;
/**
 * 5 s: on a slower 2-core machine (AMD EPYC) a cold API process and worker took about 4.5 s at this load to drain
 * what built up while they warmed (BullMQ about 1 s); with 2 s that start-up backlog made ours' p99 (BENCHMARKS.md).
 */
const LATENCY_WARM_S = SMOKE ? 0.5 : 5;
/** Scenario 6: tasks due within one second; tasks due evenly over SPREAD_SECONDS; warm-up tasks before. */
const BURST_N = SMOKE ? 200 : 20_000;
const SPREAD_N = SMOKE ? 100 : 10_000;
const SPREAD_SECONDS = SMOKE ? 1 : 10;
const DELAY_WARM = SMOKE ? 50 : 2000;
/** From the start of writing a delay schedule to its first due time; writing it must take less. */
const DELAY_LEAD_MS = SMOKE ? 500 : 3000;
const HTTP_IN_FLIGHT = 64;
const ADD_IN_FLIGHT = 50;
const CHUNK = 1000;
/** Enqueues before each enqueue measurement, not counted: connection set-up and JIT compilation. */
const WARMUP = Math.min(2000, Math.ceil(ENQUEUE_N / 10));
const REDIS_ARGS = ['--appendonly', 'yes', '--appendfsync', 'everysec'];
const BULL_QUEUE = 'bench';
const OUR_KEYS = redisKeys('td');
/** A run fails when no task is delivered for this long. */
const STALL_MS = 30_000;

const TASK_BODY = '{"hello":"world"}';
const TASK_HEADERS = { 'content-type': 'application/json' };
const sinkUrl = (port: number) => `http://127.0.0.1:${port}/hook`;

// ------------------------------------------------------------------------------ processes and clean-up

endWhatWeStartOnExit();

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
const stopChild = async (child: ChildProcess, graceMs = 15_000): Promise<void> => {
  if (exited(child)) return;
  const done = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
};

/** Throws as soon as `child` exits: raced against waits that only a live child can end. */
const diesWith = (child: ChildProcess, what: string): Promise<never> =>
  new Promise((_, reject) => {
    if (exited(child)) reject(new Error(`${what} exited (${child.exitCode ?? child.signalCode})`));
    child.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal})`)));
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type BenchRedis = { server: RedisServer; client: Redis; port: number; url: string; stop: () => Promise<void> };

/** A fresh redis-server for one run, and the bench's one connection to it. */
const startRedis = async (): Promise<BenchRedis> => {
  const server = await startRedisServer(REDIS_ARGS);
  trackServer(server);
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  return {
    server,
    client,
    port: server.port,
    url: server.url,
    stop: async () => {
      client.disconnect();
      await server.stop();
    },
  };
};

const info = async (client: Redis, section: string): Promise<Record<string, string>> => {
  const text = await client.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
};
const usedMemory = async (client: Redis) => Number((await info(client, 'memory')).used_memory);

/** Waits for an AOF rewrite in progress to end, so that its CPU (a forked child) is reaped and counted. */
const aofIdle = async (client: Redis) => {
  for (let i = 0; i < 600; i++) {
    const p = await info(client, 'persistence');
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') return;
    await sleep(100);
  }
};

type Sink = {
  child: ChildProcess;
  port: number;
  deliveries: () => Promise<Deliveries>;
  /** The /timed values recorded since the last call (arrival − the instant in the body, ms). */
  timed: () => Promise<number[]>;
};
type Deliveries = { count: number; first: number; last: number };

const startSink = async (): Promise<Sink> => {
  const child = track(spawn(process.execPath, [root('bench/sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] }));
  if (!child.stdout) throw new Error('sink has no stdout');
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    diesWith(child, 'the sink'),
  ])) as [string];
  const port = JSON.parse(line).port as number;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  child.once('exit', () => void pool.close());
  const deliveries = async () => {
    const res = await pool.request({ method: 'GET', path: '/count' });
    return (await res.body.json()) as Deliveries;
  };
  const timed = async () => {
    const res = await pool.request({ method: 'GET', path: '/stats' });
    return ((await res.body.json()) as { timed: number[] }).timed;
  };
  return { child, port, deliveries, timed };
};

// --------------------------------------------------------------------------------------------- /proc CPU

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const perTask = (seconds: number, tasks: number) => (seconds * 1e6) / tasks;

// ------------------------------------------------------------------------------------------- load helpers

/** Sends `total` tasks in calls of up to `chunk`, `inFlight` calls at a time. */
const drive = async (total: number, chunk: number, inFlight: number, send: (n: number) => Promise<void>) => {
  let left = total;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left > 0) {
        const n = Math.min(chunk, left);
        left -= n;
        await send(n);
      }
    }),
  );
};

const spawnOurs = (mode: 'api' | 'worker', redisUrl: string, extra: Record<string, string>) => {
  // the sink listens on 127.0.0.1, which the SSRF guard blocks by default
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MODE: mode,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
    ALLOW_PRIVATE_URLS: 'true',
    // the benchmark compares the task path with BullMQ's, which has no API keys either
    AUTH_MODE: 'open',
    ...extra,
  };
  for (const key of ['REDIS_SENTINEL_ADDR', 'REDIS_PREFIX', 'WORKER_ID', 'REDIS_PASSWORD']) delete env[key];
  return track(spawn(process.execPath, [root('src/main.ts')], { env, stdio: ['ignore', 'inherit', 'inherit'] }));
};

const waitHealthy = async (pool: Pool, child: ChildProcess) => {
  const dead = diesWith(child, 'the service');
  dead.catch(() => {});
  for (let i = 0; ; i++) {
    if (exited(child)) await dead;
    try {
      const res = await pool.request({ method: 'GET', path: '/health' });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('the service did not answer /health within 20 s');
    await sleep(100);
  }
};

const enqueueItem = (sinkPort: number) => ({
  client_id: 'bench',
  queue: 'default',
  task: { url: sinkUrl(sinkPort), method: 'POST', headers: TASK_HEADERS, body: TASK_BODY },
});
const jobData = (sinkPort: number) => ({
  url: sinkUrl(sinkPort),
  method: 'POST',
  headers: TASK_HEADERS,
  body: TASK_BODY,
});
/** Enqueue runs have no sink: the tasks are never dispatched. Any port does for the URL. */
const NO_SINK = 9;

// ------------------------------------------------------------------------------------------ measurements

type Values = Record<string, number>;
type Outcome = { values: Values } | { na: string };

/** Scenario 1, ours: the API as its own process, loaded over HTTP from this process. */
const enqueueOurs = async (batch: boolean): Promise<Outcome> => {
  const redis = await startRedis();
  const port = await freePort();
  const api = spawnOurs('api', redis.url, { PORT: String(port) });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: HTTP_IN_FLIGHT });
  try {
    await waitHealthy(pool, api);
    const itemJson = JSON.stringify(enqueueItem(NO_SINK));
    const batchBodies = new Map<number, string>();
    const batchBody = (n: number) => {
      let body = batchBodies.get(n);
      if (!body) {
        body = `{"tasks":[${Array.from({ length: n }, () => itemJson).join(',')}]}`;
        batchBodies.set(n, body);
      }
      return body;
    };
    const post = async (path: string, body: string, n: number) => {
      const res = await pool.request({ method: 'POST', path, headers: TASK_HEADERS, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`POST ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      if (n > 1 || path.endsWith(':batch')) {
        const results = (JSON.parse(text) as { results?: { status: string }[] }).results ?? [];
        const enqueued = results.filter((r) => r.status === 'enqueued').length;
        if (enqueued !== n) throw new Error(`POST ${path}: ${enqueued} of ${n} enqueued: ${text.slice(0, 300)}`);
      }
    };
    const send = batch
      ? (n: number) => post('/v1/enqueue:batch', batchBody(n), n)
      : () => post('/v1/enqueue', itemJson, 1);
    if (batch) {
      const probe = await pool.request({
        method: 'POST',
        path: '/v1/enqueue:batch',
        headers: TASK_HEADERS,
        body: batchBody(1),
      });
      const text = await probe.body.text();
      if (probe.statusCode !== 200)
        return { na: `POST /v1/enqueue:batch answered ${probe.statusCode}: ${text.slice(0, 120)}` };
    }
    const [chunk, inFlight] = batch ? [CHUNK, 1] : [1, HTTP_IN_FLIGHT];
    await drive(WARMUP, chunk, inFlight, send);
    const cpu0 = {
      redis: cpuSeconds(redis.server.process.pid, true),
      api: cpuSeconds(api.pid),
      client: ownCpuSeconds(),
    };
    const started = performance.now();
    await drive(ENQUEUE_N, chunk, inFlight, send);
    const seconds = (performance.now() - started) / 1000;
    const cpu1 = {
      redis: cpuSeconds(redis.server.process.pid, true),
      api: cpuSeconds(api.pid),
      client: ownCpuSeconds(),
    };
    const stored = await redis.client.xlen(OUR_KEYS.ready('default'));
    const expected = WARMUP + ENQUEUE_N + (batch ? 1 : 0);
    if (stored !== expected) throw new Error(`ours: ${stored} tasks in the ready stream, expected ${expected}`);
    return {
      values: {
        tasks_per_s: ENQUEUE_N / seconds,
        cpu_redis: perTask(cpu1.redis - cpu0.redis, ENQUEUE_N),
        cpu_api: perTask(cpu1.api - cpu0.api, ENQUEUE_N),
        cpu_client: perTask(cpu1.client - cpu0.client, ENQUEUE_N),
        cpu_total: perTask(cpu1.redis - cpu0.redis + cpu1.api - cpu0.api + cpu1.client - cpu0.client, ENQUEUE_N),
      },
    };
  } finally {
    await stopChild(api);
    await pool.close();
    await redis.stop();
  }
};

const bullConnection = (redis: BenchRedis) => ({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });

/** Scenario 1, BullMQ: Queue.add / addBulk from this process (the producer is the library in the client). */
const enqueueBull = async (bulk: boolean): Promise<Outcome> => {
  const redis = await startRedis();
  const queue = new Queue(BULL_QUEUE, { connection: bullConnection(redis) });
  try {
    await queue.waitUntilReady();
    const data = jobData(NO_SINK);
    const send = bulk
      ? async (n: number) => {
          await queue.addBulk(Array.from({ length: n }, () => ({ name: 'http', data })));
        }
      : async () => {
          await queue.add('http', data);
        };
    const [chunk, inFlight] = bulk ? [CHUNK, 1] : [1, ADD_IN_FLIGHT];
    await drive(WARMUP, chunk, inFlight, send);
    const cpu0 = { redis: cpuSeconds(redis.server.process.pid, true), client: ownCpuSeconds() };
    const started = performance.now();
    await drive(ENQUEUE_N, chunk, inFlight, send);
    const seconds = (performance.now() - started) / 1000;
    const cpu1 = { redis: cpuSeconds(redis.server.process.pid, true), client: ownCpuSeconds() };
    const stored = await queue.getWaitingCount();
    if (stored !== WARMUP + ENQUEUE_N)
      throw new Error(`BullMQ: ${stored} jobs waiting, expected ${WARMUP + ENQUEUE_N}`);
    return {
      values: {
        tasks_per_s: ENQUEUE_N / seconds,
        cpu_redis: perTask(cpu1.redis - cpu0.redis, ENQUEUE_N),
        cpu_client: perTask(cpu1.client - cpu0.client, ENQUEUE_N),
        cpu_total: perTask(cpu1.redis - cpu0.redis + cpu1.client - cpu0.client, ENQUEUE_N),
      },
    };
  } finally {
    await queue.close();
    await redis.stop();
  }
};

/**
 * Writes tasks as the API writes them (decide → record → commitFor → the store's commit script), up to 1,000
 * a call; `taskFor(i, at)` gives the i-th task's request and delay in ms from `at`, the instant it is decided.
 */
const writeOurs = async (
  redis: BenchRedis,
  total: number,
  taskFor: (i: number, at: number) => { request: HttpRequestSpec; delayMs: number },
) => {
  const store = new RedisTaskStore(redis.client, OUR_KEYS);
  let next = 0;
  await drive(total, CHUNK, 1, async (n) => {
    const at = Date.now();
    const commits: TaskCommit[] = [];
    for (let i = 0; i < n; i++) {
      const task = initialTask(newTaskId(at));
      const { request, delayMs } = taskFor(next++, at);
      const events = decide({ type: 'EnqueueTask', data: { queue: 'default', clientId: 'bench', delayMs } }, task, at);
      commits.push(commitFor(task, record(task.id, 0, at, events), { request }));
    }
    const results = await store.commit(commits);
    if (results.some((r) => r.kind !== 'ok')) throw new Error('ours: a commit was refused');
  });
};

/** Our backlog of N tasks, due at once. */
const fillOurs = async (redis: BenchRedis, sinkPort: number) => {
  const request: HttpRequestSpec = { url: sinkUrl(sinkPort), method: 'POST', headers: TASK_HEADERS, body: TASK_BODY };
  await writeOurs(redis, N, () => ({ request, delayMs: 0 }));
};

const fillBull = async (redis: BenchRedis, sinkPort: number) => {
  const queue = new Queue(BULL_QUEUE, { connection: bullConnection(redis) });
  const data = jobData(sinkPort);
  await drive(N, CHUNK, 1, async (n) => {
    await queue.addBulk(Array.from({ length: n }, () => ({ name: 'http', data })));
  });
  await queue.close();
};

/** Our `node src/main.ts` MODE=worker, or bench/bullmq-worker.ts, each in its own process. */
const spawnWorker = (system: 'ours' | 'bull', redisUrl: string, concurrency: number): ChildProcess =>
  system === 'ours'
    ? spawnOurs('worker', redisUrl, { WORKER_CONCURRENCY: String(concurrency) })
    : track(
        spawn(process.execPath, [root('bench/bullmq-worker.ts')], {
          env: { ...process.env, REDIS_URL: redisUrl, QUEUE: BULL_QUEUE, WORKER_CONCURRENCY: String(concurrency) },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );

const showProgress = (text: string) => {
  if (process.stdout.isTTY) process.stdout.write(`\r${text}\x1b[K`);
};

/**
 * Scenarios 2–4 for one system: a fresh server, the backlog, then the worker, timed until the sink has all
 * N calls and Redis has all N finished; CPU from the first delivery on; memory once the worker has exited.
 */
const dispatch = async (system: 'ours' | 'bull', concurrency: number): Promise<Outcome> => {
  const redis = await startRedis();
  const sink = await startSink();
  let worker: ChildProcess | null = null;
  try {
    const emptyMemory = await usedMemory(redis.client);
    if (system === 'ours') await fillOurs(redis, sink.port);
    else await fillBull(redis, sink.port);
    await aofIdle(redis.client);
    const finished =
      system === 'ours'
        ? async () =>
            (await redis.client.xlen(OUR_KEYS.ready('default'))) === 0 &&
            // the read models are part of a finished task's cost: wait until the projectors have applied it all
            (await projectionLags(redis.client, OUR_KEYS, PROJECTION_NAMES)).every((p) => p.lag === 0)
        : async () => {
            const [completed, failed] = await Promise.all([
              redis.client.zcard(`bull:${BULL_QUEUE}:completed`),
              redis.client.zcard(`bull:${BULL_QUEUE}:failed`),
            ]);
            if (failed > 0) throw new Error(`BullMQ: ${failed} jobs failed`);
            return completed === N;
          };

    const startedAt = Date.now();
    worker = spawnWorker(system, redis.url, concurrency);
    const dead = diesWith(worker, `the ${system === 'ours' ? 'our' : 'BullMQ'} worker`);
    dead.catch(() => {});
    const check = async () => {
      if (worker && exited(worker)) await dead;
    };

    // the first delivery: from here on, CPU is the dispatch path's, not the worker's start-up
    let seen = await sink.deliveries();
    while (seen.count === 0) {
      await check();
      if (Date.now() - startedAt > STALL_MS) throw new Error(`no delivery within ${STALL_MS / 1000} s of the start`);
      await sleep(5);
      seen = await sink.deliveries();
    }
    const cpu0 = {
      worker: cpuSeconds(worker.pid),
      redis: cpuSeconds(redis.server.process.pid, true),
      sink: cpuSeconds(sink.child.pid),
    };
    const countedFrom = seen.count;
    let progressAt = Date.now();
    let last = seen.count;
    while (seen.count < N) {
      await check();
      await sleep(50);
      seen = await sink.deliveries();
      if (seen.count > last) {
        last = seen.count;
        progressAt = Date.now();
        showProgress(`    delivered ${seen.count.toLocaleString('en-US')}/${N.toLocaleString('en-US')}`);
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error(`stalled at ${seen.count} of ${N} deliveries`);
      }
    }
    showProgress('');
    for (let i = 0; !(await finished()); i++) {
      await check();
      if (i > STALL_MS / 20) throw new Error('every task was delivered but not all are finished in Redis');
      await sleep(20);
    }
    const workerCpu = cpuSeconds(worker.pid);
    const sinkCpu = cpuSeconds(sink.child.pid);
    await aofIdle(redis.client);
    const redisCpu = cpuSeconds(redis.server.process.pid, true);
    const final = await sink.deliveries();
    const forks = Number((await info(redis.client, 'stats')).total_forks);
    await stopChild(worker);
    const memory = await usedMemory(redis.client);
    const tasks = N - countedFrom;
    return {
      values: {
        tasks_per_s: (final.count - 1) / (Math.max(1, final.last - final.first) / 1000),
        start_to_first_s: (final.first - startedAt) / 1000,
        start_to_last_s: (final.last - startedAt) / 1000,
        duplicates: final.count - N,
        memory_per_task: (memory - emptyMemory) / N,
        cpu_redis: perTask(redisCpu - cpu0.redis, tasks),
        cpu_worker: perTask(workerCpu - cpu0.worker, tasks),
        cpu_sink: perTask(sinkCpu - cpu0.sink, tasks),
        cpu_total: perTask(redisCpu - cpu0.redis + workerCpu - cpu0.worker + sinkCpu - cpu0.sink, tasks),
        aof_rewrites: forks,
      },
    };
  } finally {
    if (worker) await stopChild(worker);
    await stopChild(sink.child);
    await redis.stop();
  }
};

// ---------------------------------------------------------------------- latency and delay accuracy (5, 6)

/** The sink records arrival − the instant in the body for /timed calls; /warm calls are only counted. */
type SinkPath = '/timed' | '/warm';
const sinkPathUrl = (port: number, path: SinkPath) => `http://127.0.0.1:${port}${path}`;
/** A task to write: its sink path and body, and when it is due (null: at once). */
type Timed = { path: SinkPath; body: string; dueAt: number | null };

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const percentiles = (values: number[]): Values => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50_ms: quantile(sorted, 0.5),
    p99_ms: quantile(sorted, 0.99),
    max_ms: sorted.at(-1) ?? Number.NaN,
    // whole ms on both ends, so p50 is coarse; the mean of the differences is not
    mean_ms: values.reduce((sum, v) => sum + v, 0) / values.length,
  };
};

/** Waits until the sink has had `count` calls in all; fails when none arrives for STALL_MS. */
const waitDeliveries = async (sink: Sink, count: number, check: () => Promise<void>) => {
  let last = -1;
  let progressAt = Date.now();
  for (;;) {
    await check();
    const seen = (await sink.deliveries()).count;
    if (seen >= count) return;
    if (seen > last) {
      last = seen;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > STALL_MS) {
      throw new Error(`stalled at ${seen} of ${count} deliveries`);
    }
    await sleep(20);
  }
};

/** Collects the sink's /timed values (ms) until there are `expected`; fails when none arrives for STALL_MS. */
const collectTimed = async (sink: Sink, expected: number, check: () => Promise<void>): Promise<number[]> => {
  const values: number[] = [];
  let progressAt = Date.now();
  while (values.length < expected) {
    await check();
    await sleep(100);
    const more = await sink.timed();
    if (more.length > 0) {
      for (const v of more) values.push(v);
      progressAt = Date.now();
      showProgress(`    delivered ${fmt(values.length)}/${fmt(expected)}`);
    } else if (Date.now() - progressAt > STALL_MS) {
      throw new Error(`stalled at ${values.length} of ${expected} timed deliveries`);
    }
  }
  showProgress('');
  return values;
};

/**
 * What scenarios 5 and 6 share: a fresh redis-server, the sink and one worker (ours MODE=worker, or
 * bench/bullmq-worker.ts) at TIMED_CONCURRENCY, started and proven to deliver (one task through it).
 * `write` puts tasks in directly: ours through the store's commit script, BullMQ with addBulk.
 */
type Rig = {
  redis: BenchRedis;
  sink: Sink;
  queue: Queue | null;
  check: () => Promise<void>;
  write: (total: number, taskAt: (i: number) => Timed) => Promise<void>;
  /** Calls the sink has had beyond the probe and the warm-up tasks: the timed ones and any duplicates. */
  extraCalls: (before: number) => Promise<number>;
  stop: () => Promise<void>;
};

const startRig = async (system: 'ours' | 'bull'): Promise<Rig> => {
  const redis = await startRedis();
  let sink: Sink | null = null;
  let worker: ChildProcess | null = null;
  let queue: Queue | null = null;
  const stop = async () => {
    if (worker) await stopChild(worker);
    if (queue) await queue.close();
    if (sink) await stopChild(sink.child);
    await redis.stop();
  };
  try {
    sink = await startSink();
    const sinkPort = sink.port;
    worker = spawnWorker(system, redis.url, TIMED_CONCURRENCY);
    const dead = diesWith(worker, `the ${system === 'ours' ? 'our' : 'BullMQ'} worker`);
    dead.catch(() => {});
    const running = worker;
    const check = async () => {
      if (exited(running)) await dead;
    };
    const request = (t: Timed): HttpRequestSpec => ({
      url: sinkPathUrl(sinkPort, t.path),
      method: 'POST',
      headers: TASK_HEADERS,
      body: t.body,
    });
    let write: Rig['write'];
    if (system === 'ours') {
      write = (total, taskAt) =>
        writeOurs(redis, total, (i, at) => {
          const t = taskAt(i);
          return { request: request(t), delayMs: t.dueAt === null ? 0 : t.dueAt - at };
        });
    } else {
      const q = new Queue(BULL_QUEUE, { connection: bullConnection(redis) });
      queue = q;
      await q.waitUntilReady();
      write = async (total, taskAt) => {
        let next = 0;
        await drive(total, CHUNK, 1, async (n) => {
          const now = Date.now();
          const jobs = Array.from({ length: n }, () => {
            const t = taskAt(next++);
            // timestamp + delay is the instant BullMQ makes the job due: exactly dueAt
            return {
              name: 'http',
              data: request(t),
              opts: t.dueAt === null ? {} : { timestamp: now, delay: t.dueAt - now },
            };
          });
          await q.addBulk(jobs);
        });
      };
    }
    await write(1, () => ({ path: '/warm', body: '0', dueAt: null }));
    await waitDeliveries(sink, 1, check);
    const s = sink;
    const extraCalls = async (before: number) => (await s.deliveries()).count - 1 - before;
    return { redis, sink, queue, check, write, extraCalls, stop };
  } catch (err) {
    await stop();
    throw err;
  }
};

/**
 * Scenario 5: tasks offered at a steady LATENCY_RATE per second, LATENCY_WARM_S seconds of them not counted
 * (to /warm), then LATENCY_SECONDS seconds whose body is the instant (ms) the bench issued the enqueue; the
 * sink records arrival − that instant. Ours: POST /v1/enqueue to `node src/main.ts` MODE=api, its worker in a
 * MODE=worker process. BullMQ: Queue.add in this process.
 */
const latency = async (system: 'ours' | 'bull'): Promise<Outcome> => {
  const rig = await startRig(system);
  let api: ChildProcess | null = null;
  let pool: Pool | null = null;
  try {
    let send: (path: SinkPath, body: string) => Promise<void>;
    if (system === 'ours') {
      const port = await freePort();
      const apiProcess = spawnOurs('api', rig.redis.url, { PORT: String(port) });
      api = apiProcess;
      const apiPool = new Pool(`http://127.0.0.1:${port}`, { connections: HTTP_IN_FLIGHT });
      pool = apiPool;
      await waitHealthy(apiPool, apiProcess);
      send = async (path, body) => {
        const res = await apiPool.request({
          method: 'POST',
          path: '/v1/enqueue',
          headers: TASK_HEADERS,
          body: JSON.stringify({
            client_id: 'bench',
            queue: 'default',
            task: { url: sinkPathUrl(rig.sink.port, path), method: 'POST', headers: TASK_HEADERS, body },
          }),
        });
        const text = await res.body.text();
        if (res.statusCode !== 200)
          throw new Error(`POST /v1/enqueue answered ${res.statusCode}: ${text.slice(0, 300)}`);
      };
    } else {
      const queue = rig.queue as Queue;
      send = async (path, body) => {
        await queue.add('http', {
          url: sinkPathUrl(rig.sink.port, path),
          method: 'POST',
          headers: TASK_HEADERS,
          body,
        });
      };
    }
    const warm = Math.round(LATENCY_RATE * LATENCY_WARM_S);
    const timed = LATENCY_RATE * LATENCY_SECONDS;
    let failure: Error | null = null;
    const pending = new Set<Promise<void>>();
    const started = performance.now();
    let firstTimedAt = 0;
    let lastTimedAt = 0;
    for (let sent = 0; sent < warm + timed; ) {
      const due = Math.min(warm + timed, Math.floor(((performance.now() - started) / 1000) * LATENCY_RATE) + 1);
      for (; sent < due; sent++) {
        const isTimed = sent >= warm;
        if (isTimed) {
          lastTimedAt = performance.now();
          if (sent === warm) firstTimedAt = lastTimedAt;
        }
        const p = send(isTimed ? '/timed' : '/warm', isTimed ? String(Date.now()) : '0').catch((err: Error) => {
          failure ??= err;
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (failure) break;
      if (sent % LATENCY_RATE === 0) await rig.check();
      await sleep(1);
    }
    await Promise.all(pending);
    if (failure) throw failure;
    const values = await collectTimed(rig.sink, timed, rig.check);
    return {
      values: {
        ...percentiles(values),
        offered_per_s: (timed - 1) / ((lastTimedAt - firstTimedAt) / 1000),
        duplicates: (await rig.extraCalls(warm)) - timed,
      },
    };
  } finally {
    if (api) await stopChild(api);
    if (pool) await pool.close();
    await rig.stop();
  }
};

/**
 * Scenario 6: DELAY_WARM tasks due at once (not counted), then a schedule written in one go, due from
 * DELAY_LEAD_MS after the write began: `burst` = BURST_N tasks due evenly within one second, `spread` =
 * SPREAD_N due evenly over SPREAD_SECONDS. Each body is the task's due instant (ms); the sink records
 * arrival − due. Ours is written through the store's commit script with that due time, BullMQ with addBulk and
 * delay = due − timestamp.
 */
const delayAccuracy = async (system: 'ours' | 'bull', shape: 'burst' | 'spread'): Promise<Outcome> => {
  const rig = await startRig(system);
  try {
    await rig.write(DELAY_WARM, () => ({ path: '/warm', body: '0', dueAt: null }));
    await waitDeliveries(rig.sink, 1 + DELAY_WARM, rig.check);
    const [count, spanMs] = shape === 'burst' ? [BURST_N, 1000] : [SPREAD_N, SPREAD_SECONDS * 1000];
    const firstDue = Date.now() + DELAY_LEAD_MS;
    await rig.write(count, (i) => {
      const dueAt = firstDue + Math.floor((i * spanMs) / count);
      return { path: '/timed', body: String(dueAt), dueAt };
    });
    const late = Date.now() - firstDue;
    if (late >= 0) throw new Error(`writing the schedule ended ${late} ms after the first due time`);
    const values = await collectTimed(rig.sink, count, rig.check);
    return {
      values: {
        ...percentiles(values),
        early: values.filter((v) => v < 0).length,
        duplicates: (await rig.extraCalls(DELAY_WARM)) - count,
      },
    };
  } finally {
    await rig.stop();
  }
};

// ------------------------------------------------------------------------------------------------- runs

type Sample = { scenario: string; system: 'ours' | 'bull'; run: number; outcome: Outcome };
const samples: Sample[] = [];
const benchStarted = performance.now();
const elapsed = () => `${Math.round((performance.now() - benchStarted) / 1000)}s`.padStart(5);
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const NAMES = { ours: 'ours  ', bull: 'BullMQ' } as const;

const run = async (
  scenario: string,
  label: string,
  system: 'ours' | 'bull',
  k: number,
  measure: () => Promise<Outcome>,
  optional = false,
) => {
  process.stdout.write(`[${elapsed()}] ${label} · run ${k}/${RUNS} · ${NAMES[system]} …\n`);
  let outcome: Outcome;
  try {
    outcome = await measure();
  } catch (err) {
    if (!optional) throw err;
    outcome = { na: (err as Error).message.split('\n')[0] ?? 'failed' };
  }
  samples.push({ scenario, system, run: k, outcome });
  const summary =
    'values' in outcome
      ? Object.entries(outcome.values)
          .map(([key, v]) => `${key}=${fmt(v, Math.abs(v) < 10 && v % 1 !== 0 ? 2 : 0)}`)
          .join(' ')
      : `n/a (${outcome.na})`;
  process.stdout.write(`         ${summary}\n`);
};

const plan = {
  enqueue: `enqueue ${fmt(ENQUEUE_N)} tasks`,
  dispatch: `backlog ${fmt(N)} tasks at worker concurrency ${CONCURRENCIES.join(' and ')}`,
  latency: `${fmt(LATENCY_RATE)} tasks/s for ${LATENCY_SECONDS} s`,
  delay: `${fmt(BURST_N)} due within 1 s and ${fmt(SPREAD_N)} over ${SPREAD_SECONDS} s`,
};
process.stdout.write(
  `bench/compare.ts${SMOKE ? ' (smoke)' : ''}: ${SCENARIOS.map((name) => plan[name]).join(', ')}` +
    `${selected('latency') || selected('delay') ? ` (worker concurrency ${TIMED_CONCURRENCY})` : ''}; ` +
    `${RUNS} run(s) each, ours and BullMQ alternating\n`,
);
for (let k = 1; k <= RUNS; k++) {
  if (selected('enqueue')) {
    await run('enqueue.single', 'enqueue, one task per call', 'ours', k, () => enqueueOurs(false));
    await run('enqueue.single', 'enqueue, one task per call', 'bull', k, () => enqueueBull(false));
    if (BATCH) await run('enqueue.chunk', 'enqueue, chunks of 1,000', 'ours', k, () => enqueueOurs(true), true);
    await run('enqueue.chunk', 'enqueue, chunks of 1,000', 'bull', k, () => enqueueBull(true));
  }
  if (selected('dispatch')) {
    for (const c of CONCURRENCIES) {
      await run(`dispatch.${c}`, `dispatch, concurrency ${c}`, 'ours', k, () => dispatch('ours', c));
      await run(`dispatch.${c}`, `dispatch, concurrency ${c}`, 'bull', k, () => dispatch('bull', c));
    }
  }
  if (selected('latency')) {
    const label = `latency at ${fmt(LATENCY_RATE)} tasks/s`;
    await run('latency', label, 'ours', k, () => latency('ours'));
    await run('latency', label, 'bull', k, () => latency('bull'));
  }
  if (selected('delay')) {
    const burst = `delay, ${fmt(BURST_N)} due within 1 s`;
    await run('delay.burst', burst, 'ours', k, () => delayAccuracy('ours', 'burst'));
    await run('delay.burst', burst, 'bull', k, () => delayAccuracy('bull', 'burst'));
    const spread = `delay, ${fmt(SPREAD_N)} due over ${SPREAD_SECONDS} s`;
    await run('delay.spread', spread, 'ours', k, () => delayAccuracy('ours', 'spread'));
    await run('delay.spread', spread, 'bull', k, () => delayAccuracy('bull', 'spread'));
  }
}
const benchSeconds = (performance.now() - benchStarted) / 1000;

// ------------------------------------------------------------------------------------------------ table

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
/** The median of one value over the runs of `scenario` prefixes; a string when none was measured. */
const med = (scenarios: string[], system: 'ours' | 'bull', key: string): number | string => {
  const picked = samples.filter((s) => scenarios.includes(s.scenario) && s.system === system);
  const values = picked.flatMap((s) =>
    'values' in s.outcome && key in s.outcome.values ? [s.outcome.values[key] as number] : [],
  );
  return values.length > 0 ? median(values) : 'n/a';
};

type Row = { scenario: string; metric: string; ours: number | string; bull: number | string; digits?: number };
const dispatchScenarios = CONCURRENCIES.map((c) => `dispatch.${c}`);
const rows: Row[] = [
  {
    scenario: '1 enqueue',
    metric: 'tasks/s, one per call (ours HTTP ×64, BullMQ Queue.add ×50)',
    ours: med(['enqueue.single'], 'ours', 'tasks_per_s'),
    bull: med(['enqueue.single'], 'bull', 'tasks_per_s'),
  },
  {
    scenario: '1 enqueue',
    metric: 'tasks/s, chunks of 1,000 (ours /v1/enqueue:batch, BullMQ addBulk)',
    ours: BATCH ? med(['enqueue.chunk'], 'ours', 'tasks_per_s') : 'n/a',
    bull: med(['enqueue.chunk'], 'bull', 'tasks_per_s'),
  },
  {
    scenario: '1 enqueue',
    metric: 'CPU µs/task, one per call: redis-server',
    ours: med(['enqueue.single'], 'ours', 'cpu_redis'),
    bull: med(['enqueue.single'], 'bull', 'cpu_redis'),
  },
  {
    scenario: '1 enqueue',
    metric: 'CPU µs/task, one per call: API process (ours only)',
    ours: med(['enqueue.single'], 'ours', 'cpu_api'),
    bull: '–',
  },
  {
    scenario: '1 enqueue',
    metric: 'CPU µs/task, one per call: client (HTTP client / Queue.add)',
    ours: med(['enqueue.single'], 'ours', 'cpu_client'),
    bull: med(['enqueue.single'], 'bull', 'cpu_client'),
  },
  {
    scenario: '1 enqueue',
    metric: 'CPU µs/task, one per call: all of the above',
    ours: med(['enqueue.single'], 'ours', 'cpu_total'),
    bull: med(['enqueue.single'], 'bull', 'cpu_total'),
  },
];
for (const c of CONCURRENCIES) {
  rows.push(
    {
      scenario: '2 dispatch',
      metric: `tasks/s, concurrency ${c} (first → last delivery)`,
      ours: med([`dispatch.${c}`], 'ours', 'tasks_per_s'),
      bull: med([`dispatch.${c}`], 'bull', 'tasks_per_s'),
    },
    {
      scenario: '2 dispatch',
      metric: `s from worker start to all delivered, concurrency ${c}`,
      ours: med([`dispatch.${c}`], 'ours', 'start_to_last_s'),
      bull: med([`dispatch.${c}`], 'bull', 'start_to_last_s'),
      digits: 1,
    },
  );
}
rows.push({
  scenario: '3 memory',
  metric: 'Redis bytes per finished task (used_memory − empty)',
  ours: med(dispatchScenarios, 'ours', 'memory_per_task'),
  bull: med(dispatchScenarios, 'bull', 'memory_per_task'),
});
for (const c of CONCURRENCIES) {
  for (const [key, name] of [
    ['cpu_redis', 'redis-server'],
    ['cpu_worker', 'worker process'],
    ['cpu_sink', 'sink'],
    ['cpu_total', 'all three'],
  ] as const) {
    rows.push({
      scenario: '4 CPU',
      metric: `µs/task dispatching, concurrency ${c}: ${name}`,
      ours: med([`dispatch.${c}`], 'ours', key),
      bull: med([`dispatch.${c}`], 'bull', key),
    });
  }
}
for (const q of ['p50', 'p99'] as const) {
  rows.push({
    scenario: '5 latency',
    metric: `ms enqueue → delivery ${q}, ${fmt(LATENCY_RATE)} tasks/s for ${LATENCY_SECONDS} s`,
    ours: med(['latency'], 'ours', `${q}_ms`),
    bull: med(['latency'], 'bull', `${q}_ms`),
  });
}
for (const [scenario, what] of [
  ['delay.burst', `${fmt(BURST_N)} tasks due within one second`],
  ['delay.spread', `${fmt(SPREAD_N)} tasks due evenly over ${SPREAD_SECONDS} s`],
] as const) {
  for (const q of ['p50', 'p99'] as const) {
    rows.push({
      scenario: '6 delay accuracy',
      metric: `ms lateness ${q}, ${what}`,
      ours: med([scenario], 'ours', `${q}_ms`),
      bull: med([scenario], 'bull', `${q}_ms`),
    });
  }
}

const cell = (v: number | string, digits = 0) => (typeof v === 'number' ? fmt(v, digits) : v);
const ratio = (r: Row) =>
  typeof r.ours === 'number' && typeof r.bull === 'number' && r.bull !== 0 ? `${(r.ours / r.bull).toFixed(2)}×` : '–';
const header = ['scenario', 'metric', 'ours', 'BullMQ', 'ours/BullMQ'];
/** Which selectable scenario each table scenario comes from; rows of scenarios not run are left out. */
const ROW_SOURCE: Record<string, ScenarioName> = {
  '1 enqueue': 'enqueue',
  '2 dispatch': 'dispatch',
  '3 memory': 'dispatch',
  '4 CPU': 'dispatch',
  '5 latency': 'latency',
  '6 delay accuracy': 'delay',
};
const body = rows
  .filter((r) => {
    const source = ROW_SOURCE[r.scenario];
    return source === undefined || selected(source);
  })
  .map((r) => [r.scenario, r.metric, cell(r.ours, r.digits), cell(r.bull, r.digits), ratio(r)]);
const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
const table = [
  line(header),
  `|${widths.map((w, i) => (i >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
  ...body.map(line),
].join('\n');

process.stdout.write(`\nmedians of ${RUNS} run(s) each, in ${fmt(benchSeconds / 60, 1)} min\n\n${table}\n`);
const unmeasured = samples.filter((s) => 'na' in s.outcome);
for (const s of unmeasured)
  if ('na' in s.outcome) process.stdout.write(`n/a: ${s.scenario} ${s.system} run ${s.run}: ${s.outcome.na}\n`);
if (!BATCH && selected('enqueue'))
  process.stdout.write('ours /v1/enqueue:batch: n/a (run with BATCH=1 to measure it)\n');
const allSelected = SCENARIOS.length === ALL_SCENARIOS.length && ALL_SCENARIOS.every(selected);
/** BENCH_OUT writes the generated document there instead of BENCHMARKS.md, also for a subset of SCENARIOS. */
const OUT = process.env.BENCH_OUT || (allSelected ? root('BENCHMARKS.md') : null);
if (!SMOKE && !OUT)
  process.stdout.write(`SCENARIOS=${SCENARIOS.join(',')}: printed only (BENCH_OUT=<file> writes it there)\n`);

// ---------------------------------------------------------------------------------------- BENCHMARKS.md

/** Everything after this line in BENCHMARKS.md is written by hand (before/after figures) and kept as it is. */
const HAND_WRITTEN = '<!-- Written by hand from here on; bench/compare.ts keeps it. -->';

const handWritten = (): string => {
  let current = '';
  try {
    current = readFileSync(root('BENCHMARKS.md'), 'utf8');
  } catch {
    return '';
  }
  const at = current.indexOf(HAND_WRITTEN);
  return at === -1 ? '' : `\n${current.slice(at)}`;
};

if (!SMOKE && OUT) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const cores = cpuinfo.split('\n').filter((l) => l.startsWith('processor')).length;
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
  const versionRedis = await startRedis();
  const redisVersion = (await info(versionRedis.client, 'server')).redis_version;
  await versionRedis.stop();
  const bullVersion = JSON.parse(readFileSync(root('node_modules/bullmq/package.json'), 'utf8')).version as string;
  const settings = ['N', 'ENQUEUE_N', 'RUNS', 'CONCURRENCIES', 'TIMED_CONCURRENCY', 'BATCH', 'SCENARIOS'].filter(
    (k) => process.env[k],
  );
  const command = `${settings.map((k) => `${k}=${process.env[k]} `).join('')}${
    process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/compare.ts'
  }`;
  const raw = samples.map((s) => {
    const v =
      'values' in s.outcome
        ? Object.entries(s.outcome.values)
            .map(([key, x]) => `${key} ${fmt(x, Math.abs(x) < 10 && x % 1 !== 0 ? 2 : 0)}`)
            .join(', ')
        : `n/a: ${s.outcome.na}`;
    return `| ${s.scenario} | ${s.system === 'ours' ? 'ours' : 'BullMQ'} | ${s.run} | ${v} |`;
  });
  const lowered =
    N < ISSUE_N
      ? `\nThe backlog is ${fmt(N)} tasks, not the issue's ${fmt(ISSUE_N)}: with ${fmt(ISSUE_N)} the full run ` +
        '(3 runs × 2 concurrencies × 2 systems, plus the enqueue runs) would not fit in about 12 minutes on this machine.\n'
      : '';
  const md = `# Benchmarks: Task Dispatcher and BullMQ side by side

Generated by \`bench/compare.ts\` on ${new Date().toISOString().slice(0, 10)}; it took ${fmt(benchSeconds / 60, 1)} minutes.

\`\`\`
${command}
\`\`\`

- Machine: ${cpuModel}, ${cores} cores (logical CPUs), ${fmt(memKb / 1024 / 1024, 1)} GB RAM. Everything runs on it:
  redis-server, the service or BullMQ worker, the sink and the load generator share the ${cores} cores.
- Node ${process.version}, Redis ${redisVersion} (a fresh redis-server per run, AOF \`appendfsync everysec\`, no RDB
  snapshots, otherwise defaults), BullMQ ${bullVersion}.
- Enqueue: ${fmt(ENQUEUE_N)} tasks per run after ${fmt(WARMUP)} not counted. Dispatch: a backlog of ${fmt(N)} tasks,
  worker concurrency ${CONCURRENCIES.join(' and ')}. Latency: ${fmt(LATENCY_RATE)} tasks/s for ${LATENCY_SECONDS} s after
  ${LATENCY_WARM_S} s not counted. Delay accuracy: ${fmt(BURST_N)} tasks due within one second, and ${fmt(SPREAD_N)} due
  evenly over ${SPREAD_SECONDS} s, each after ${fmt(DELAY_WARM)} tasks not counted. Latency and delay accuracy at worker
  concurrency ${TIMED_CONCURRENCY}. ${RUNS} runs of each, ours and BullMQ alternating; medians.
${lowered}
${table}

How it was measured:

- **Enqueue, one per call.** Ours: \`POST /v1/enqueue\` with one task per request, ${HTTP_IN_FLIGHT} requests in flight
  (undici Pool), against \`node src/main.ts\` with \`MODE=api\` in its own process. BullMQ: \`Queue.add\`, ${ADD_IN_FLIGHT}
  calls in flight, in the bench process. So ours pays an HTTP hop and a second process that BullMQ, a library in
  the producer, does not have; the CPU rows show both sides of it.
- **Enqueue, chunks of 1,000.** BullMQ: \`addBulk\`, one chunk at a time. Ours: \`POST /v1/enqueue:batch\`, one chunk
  at a time, measured only with \`BATCH=1\` and when the route answers; otherwise n/a.
- **Dispatch.** The backlog is written first (ours through the store's \`commit\` script, exactly as the API writes
  it, 1,000 tasks a call; BullMQ with \`addBulk\`), then the worker is started: \`node src/main.ts\` with
  \`MODE=worker\` (\`LOG_LEVEL=warn\`), or \`bench/bullmq-worker.ts\`, a BullMQ Worker whose processor makes the same
  undici \`request\` (a shared Agent with our dispatcher's settings, body drained) and returns status and latency.
  Each call is a POST with a 17-byte JSON body to \`bench/sink.ts\` on 127.0.0.1, which answers 200.
  Throughput is N over the time between the first and the last call the sink received; the start-up (process
  start, module loading, the first lease) is the "from worker start" row. A run ends when the sink has N calls
  and Redis has every task finished (ours: the ready stream empty; BullMQ: N in the completed set).
- **Memory.** \`used_memory\` after the dispatch run, with the worker stopped and only the bench's own connection
  open, minus the same figure on the empty server, over N. Ours keeps each task with its full history (4 events)
  and the ledger stream of every event; BullMQ keeps every completed job (default retention, removeOnComplete
  unset) and its events stream (capped at about 10,000 entries by default). Median over all dispatch runs.
- **CPU.** utime + stime from \`/proc/<pid>/stat\`, from the first delivery until every task is finished, over the
  tasks delivered in that time. redis-server includes its reaped children (AOF rewrites triggered by the run).
  The worker's start-up CPU is left out. Enqueue CPU is over the measured enqueues.
- **Latency at a fixed load.** Tasks are offered at a steady ${fmt(LATENCY_RATE)} a second (paced on a 1 ms timer,
  not waiting for answers) for ${LATENCY_WARM_S} s not counted, then ${LATENCY_SECONDS} s counted. Each counted task's body is
  the instant (\`Date.now()\`, ms) the bench issued its enqueue; the sink records its arrival minus that instant, so
  the figure is enqueue call → request at the target, the enqueue's own round trip included. Ours: \`POST
  /v1/enqueue\`, one task per request (undici Pool), to \`node src/main.ts\` with \`MODE=api\`, the worker in a second
  process with \`MODE=worker\` (as in the rows above, and as it would be deployed; \`MODE=both\` would save the
  bench one process on the 2 cores). BullMQ: \`Queue.add\` in the bench process (the producer is a library in
  the client), \`bench/bullmq-worker.ts\` in its own process. Worker concurrency ${TIMED_CONCURRENCY} for both. Before
  the load starts, one task has gone through each system, so process start-up is not in the figures; the
  ${LATENCY_WARM_S} s not counted are for the JIT to warm up under the load (after 2 s ours was still draining the
  backlog of its start on a slower machine).
- **Delay accuracy.** With the worker running and ${fmt(DELAY_WARM)} immediate tasks delivered (not counted), the
  whole schedule is written in one go, due from ${DELAY_LEAD_MS / 1000} s after the write began (the write takes less;
  the run fails otherwise): ${fmt(BURST_N)} tasks due evenly within one second, or, in a run of its own,
  ${fmt(SPREAD_N)} due evenly over ${SPREAD_SECONDS} s. Each body is the task's due instant (ms); the sink records
  arrival − due (lateness). Ours is written through the store's \`commit\` script as the API writes it (decide,
  record, commit), with a due time in ms: the API's \`delay\` is whole seconds from the instant it accepts the
  request, so a chosen due instant cannot be set through it, and writing 20,000 tasks over HTTP would take longer
  than the second they are due in. BullMQ: \`addBulk\` with \`delay\` = due − \`timestamp\`, the job's own
  timestamp set to the same \`Date.now()\`, which makes BullMQ's due instant exactly the task's. 20,000 tasks due
  within one second are more than either system dispatches in a second, so that row is mostly dispatch throughput;
  the spread row is the scheduler's accuracy under a steady load. An idle BullMQ worker waits for its next delayed
  job with a \`BZPOPMIN\` timeout, which redis-server ends only at its next timer tick (every 100 ms at the default
  \`hz 10\` used here), so BullMQ's lateness depends on that setting; ours sleeps in the worker until the due time. Times are whole ms of one clock (\`Date.now()\`
  in the bench and in the sink, the clock both systems schedule by), so a p50 of 1 ms is coarse; the runs below
  also give the mean, which whole ms on both ends do not bias. Percentiles are nearest-rank over the counted
  tasks of a run, then the median over runs.

Every run:

| scenario | system | run | values (throughput tasks/s, times s, memory bytes/task, CPU µs/task, latency and lateness ms) |
|---|---|---|---|
${raw.join('\n')}
`;
  writeFileSync(OUT, md + handWritten());
  process.stdout.write(`\nwrote ${OUT === root('BENCHMARKS.md') ? 'BENCHMARKS.md' : OUT}\n`);
}
