/**
 * Delay accuracy: enqueues RATE tasks per second for SECONDS seconds, each with delay=DELAY s, so RATE tasks
 * fall due every second, evenly spread. The sink (its own process) records, for every delivery, how long
 * after the task's ETA it arrived. Prints p50/p90/p99/max lateness.
 *
 *   node bench/lateness.ts            (RATE=1000 SECONDS=10 DELAY=2 CONCURRENCY=50 WARMUP=3 by default)
 *
 * The first WARMUP seconds of load go to another path and are not measured: they cover connection set-up
 * and JIT compilation of the dispatch path, which would otherwise dominate the tail of a short run.
 *
 * It starts its own redis-server (AOF everysec) on a free port, the service (MODE=both, or SPLIT=1 for
 * MODE=api + MODE=worker) and the sink as
 * child processes, and stops all three at the end.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { freePort, startRedisServer } from '../test/support/redis-server.ts';
import { cpuSeconds, endWhatWeStartOnExit, track, trackServer } from './support.ts';

const RATE = Number(process.env.RATE ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const DELAY = Number(process.env.DELAY ?? 2);
const CONCURRENCY = process.env.CONCURRENCY ?? '50';
const WARMUP = Number(process.env.WARMUP ?? 3);

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

const fetchRedisInfo = async () => {
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  const stats = await r.info('commandstats');
  const cpu = await r.info('cpu');
  r.disconnect();
  return `${cpu}\n${stats}`;
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

endWhatWeStartOnExit();
const redis = trackServer(
  await startRedisServer(process.env.REDIS_AOF === 'no' ? [] : ['--appendonly', 'yes', '--appendfsync', 'everysec']),
);
const sink = track(spawn(process.execPath, [root('bench/sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] }));
const [sinkLine] = (await once(createInterface({ input: sink.stdout }), 'line')) as [string];
const sinkPort = JSON.parse(sinkLine).port as number;
const apiPort = await freePort();
const nodeArgs = (process.env.SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
// SPLIT=1 runs the API and the worker as two processes (MODE=api, MODE=worker) instead of one MODE=both
const modes = process.env.SPLIT === '1' ? ['api', 'worker'] : ['both'];
const services = modes.map((mode) =>
  track(
    spawn(process.execPath, [...nodeArgs, root('src/main.ts')], {
      env: {
        ...process.env,
        MODE: mode,
        REDIS_URL: redis.url,
        PORT: String(apiPort),
        LOG_LEVEL: 'warn',
        WORKER_CONCURRENCY: CONCURRENCY,
        // the sink listens on 127.0.0.1, which the SSRF guard blocks by default
        ALLOW_PRIVATE_URLS: 'true',
        // the load generator has no API key; lateness is about the task path, not auth
        AUTH_MODE: 'open',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  ),
);
// the load generator shares the 2 cores with what it measures: it yields to them, so that lateness is the
// service's own and not time the service spent waiting for the generator's CPU
setPriority(10);
const api = new Pool(`http://127.0.0.1:${apiPort}`, { connections: 32 });
for (let i = 0; ; i++) {
  try {
    await api.request({ method: 'GET', path: '/health' }).then((r) => r.body.dump());
    break;
  } catch {
    if (i > 100) throw new Error('the service did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const bodyFor = (path: string) =>
  JSON.stringify({
    client_id: 'lateness-bench',
    delay: DELAY,
    task: { url: `http://127.0.0.1:${sinkPort}${path}`, body: '{"hello":"world"}' },
  });
const warmupBody = bodyFor('/warmup');
const measuredBody = bodyFor('/due');
const warmupTasks = RATE * WARMUP;
const total = RATE * SECONDS;
let sent = 0;
let failed = 0;
const started = performance.now();
const inflight: Promise<void>[] = [];
process.stdout.write(`enqueueing ${warmupTasks} + ${total} tasks at ${RATE}/s with delay ${DELAY} s\n`);
while (sent < warmupTasks + total) {
  const due = Math.floor(((performance.now() - started) / 1000) * RATE);
  for (; sent < Math.min(due, warmupTasks + total); sent++) {
    const body = sent < warmupTasks ? warmupBody : measuredBody;
    inflight.push(
      api
        .request({ method: 'POST', path: '/v1/enqueue', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => {
          if (r.statusCode !== 200) failed++;
          await r.body.dump();
        }),
    );
  }
  if (sent % RATE < 10) process.stdout.write(`\r  ${sent}/${warmupTasks + total} enqueued`);
  await new Promise((r) => setTimeout(r, 5));
}
await Promise.all(inflight);
const enqueueSeconds = (performance.now() - started) / 1000;
process.stdout.write(
  `\r  ${sent}/${warmupTasks + total} enqueued in ${enqueueSeconds.toFixed(1)} s (${failed} failed)\n`,
);

const values: number[] = [];
const until = Date.now() + (DELAY + 30) * 1000;
while (values.length < total - failed && Date.now() < until) {
  await new Promise((r) => setTimeout(r, 500));
  const stats = await fetch(`http://127.0.0.1:${sinkPort}/stats`).then(
    (r) => r.json() as Promise<{ lateness: number[] }>,
  );
  values.push(...stats.lateness);
  process.stdout.write(`\r  ${values.length}/${total - failed} delivered`);
}
process.stdout.write('\n');
values.sort((a, b) => a - b);
const result = {
  tasks: total,
  warmup_tasks: warmupTasks,
  delivered: values.length,
  rate_per_s: RATE,
  delay_s: DELAY,
  lateness_ms: {
    p50: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    max: values.at(-1),
    early: values.filter((v) => v < 0).length,
  },
};
const cpuMicrosPerTask = (pid: number | undefined) => Math.round((cpuSeconds(pid) * 1e6) / (warmupTasks + total));
console.log(
  JSON.stringify(
    {
      ...result,
      cpu_us_per_task: {
        ...Object.fromEntries(services.map((p, i) => [`service_${modes[i]}`, cpuMicrosPerTask(p.pid)])),
        redis: cpuMicrosPerTask(redis.process.pid),
        sink: cpuMicrosPerTask(sink.pid),
        load_generator: cpuMicrosPerTask(process.pid),
      },
    },
    null,
    2,
  ),
);

const info = await fetchRedisInfo();
if (process.env.SHOW_REDIS_STATS) console.log(info);
for (const p of services) p.kill('SIGTERM');
await Promise.all(services.map((p) => once(p, 'exit')));
sink.kill('SIGTERM');
await once(sink, 'exit');
await api.close();
await redis.stop();
