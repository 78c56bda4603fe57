/**
 * A diagnostic, not part of `npm run bench`: dispatches a backlog of N tasks with one `MODE=worker` process on a
 * fresh redis-server (AOF everysec, automatic rewrites off) and prints, per task, redis-server CPU, commandstats
 * and the bytes the run appended to the AOF by command. `PROBE_REWRITE=1` keeps automatic rewrites on.
 * `PROBE_AOF=0` runs without the AOF, to see what appending to it costs.
 * `PROBE_SLOWLOG=1` logs every command in the slow log and prints the time spent in each script (EVALSHA is one
 * row in commandstats). A script's time includes the commands it calls, which also have rows of their own. Logging
 * every command costs some Redis CPU of its own, and the times are wall clock: on shared cores a script that is
 * preempted counts the wait too.
 *   N=20000 CONCURRENCY=50 node bench/probe-dispatch.ts
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { redisKeys } from '../src/adapters/redis/keys.ts';
import { commitFor, type TaskCommit } from '../src/adapters/redis/placement.ts';
import { scripts } from '../src/adapters/redis/scripts/index.ts';
import { RedisTaskStore } from '../src/adapters/redis/task-store.ts';
import { newTaskId } from '../src/api/task-id.ts';
import { decide } from '../src/domain/task/decide.ts';
import { record } from '../src/domain/task/events.ts';
import { initialTask } from '../src/domain/task/task.ts';
import { projectionLags } from '../src/projections/generations.ts';
import { PROJECTION_NAMES } from '../src/projections/index.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { cpuSeconds, endWhatWeStartOnExit, track, trackServer } from './support.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const N = Number(process.env.N ?? 20000);
const CONCURRENCY = process.env.CONCURRENCY ?? '50';
const keys = redisKeys('td');
endWhatWeStartOnExit();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rewrite = process.env.PROBE_REWRITE === '1' ? [] : ['--auto-aof-rewrite-percentage', '0'];
const server = trackServer(
  await startRedisServer([
    '--appendonly',
    process.env.PROBE_AOF === '0' ? 'no' : 'yes',
    '--appendfsync',
    'everysec',
    ...rewrite,
  ]),
);
const redis = new Redis(server.url);
const sink = track(spawn(process.execPath, [root('bench/sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] }));
const port = await new Promise<number>((resolve) =>
  sink.stdout?.once('data', (d) => resolve(JSON.parse(String(d)).port)),
);
const sinkPool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
const count = async () =>
  ((await (await sinkPool.request({ method: 'GET', path: '/count' })).body.json()) as { count: number }).count;

const store = new RedisTaskStore(redis, keys);
const request = {
  url: `http://127.0.0.1:${port}/hook`,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body: '{"hello":"world"}',
};
for (let done = 0; done < N; done += 1000) {
  const at = Date.now();
  const commits: TaskCommit[] = [];
  for (let i = 0; i < Math.min(1000, N - done); i++) {
    const task = initialTask(newTaskId(at));
    const events = decide({ type: 'EnqueueTask', data: { queue: 'default', clientId: 'bench', delayMs: 0 } }, task, at);
    commits.push(commitFor(task, record(task.id, 0, at, events), { request }));
  }
  await store.commit(commits);
}
const aofDir = join(server.dir ?? '', 'appendonlydir');
const aofFiles = () => (process.env.PROBE_AOF === '0' ? [] : readdirSync(aofDir)).filter((f) => f.includes('.incr.'));
const aofSize = () => aofFiles().reduce((s, f) => s + statSync(join(aofDir, f)).size, 0);
await redis.config('RESETSTAT');
const SLOWLOG = process.env.PROBE_SLOWLOG === '1';
if (SLOWLOG) {
  await redis.config('SET', 'slowlog-max-len', String(40 * N));
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.slowlog('RESET');
}
const aof0 = aofSize();
const cpu0 = cpuSeconds(server.process.pid, true);
const worker = track(
  spawn(
    process.execPath,
    [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), root('src/main.ts')],
    {
      env: {
        ...process.env,
        MODE: 'worker',
        REDIS_URL: server.url,
        LOG_LEVEL: 'warn',
        ALLOW_PRIVATE_URLS: 'true',
        AUTH_MODE: 'open',
        WORKER_CONCURRENCY: CONCURRENCY,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  ),
);
const started = performance.now();
let firstAt = 0;
let workerCpu0 = 0;
for (;;) {
  const c = await count();
  if (c > 0 && firstAt === 0) {
    firstAt = performance.now();
    workerCpu0 = cpuSeconds(worker.pid);
  }
  if (c >= N && (await redis.xlen(keys.ready('default'))) === 0) {
    const lags = await projectionLags(redis, keys, PROJECTION_NAMES);
    if (lags.every((l) => l.lag === 0)) break;
  }
  await sleep(20);
}
const lastAt = performance.now();
const cpu1 = cpuSeconds(server.process.pid, true);
const workerCpu = cpuSeconds(worker.pid) - workerCpu0;
const stats = await redis.info('commandstats');
if (SLOWLOG) await redis.config('SET', 'slowlog-log-slower-than', '-1');
const mem = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
worker.kill('SIGTERM');
await sleep(1500);
const perTask = (s: number) => ((s * 1e6) / N).toFixed(1);
console.log(
  `N ${N} concurrency ${CONCURRENCY}: ${(N / ((lastAt - firstAt) / 1000)).toFixed(0)} tasks/s first→projected, ${((lastAt - started) / 1000).toFixed(1)} s from start`,
);
console.log(
  `redis-server CPU µs/task ${perTask(cpu1 - cpu0)}; worker CPU µs/task ${perTask(workerCpu)}; memory ${mem}`,
);
console.log(`AOF bytes/task ${((aofSize() - aof0) / N).toFixed(0)}`);
const rows: [string, number, number][] = [];
for (const line of stats.split('\r\n')) {
  const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
  if (m) rows.push([m[1] as string, Number(m[2]) / N, Number(m[3]) / N]);
}
rows.sort((a, b) => b[2] - a[2]);
console.log('command          calls/task   µs/task');
for (const [name, calls, us] of rows.slice(0, 20))
  console.log(`${name.padEnd(16)} ${calls.toFixed(2).padStart(10)} ${us.toFixed(1).padStart(9)}`);
if (SLOWLOG) {
  const bySha = new Map(Object.values(scripts).map((s) => [s.sha1, s.name]));
  const log = (await redis.slowlog('GET', -1)) as [number, number, number, string[]][];
  const byScript = new Map<string, [number, number]>();
  for (const [, , us, args] of log) {
    const cmd = String(args[0]).toLowerCase();
    const name = cmd === 'evalsha' ? (bySha.get(String(args[1])) ?? 'evalsha ?') : cmd;
    const entry = byScript.get(name) ?? [0, 0];
    entry[0]++;
    entry[1] += us;
    byScript.set(name, entry);
  }
  console.log('slow log: script or command    calls/task   µs/task   µs/call');
  for (const [name, [c, us]] of [...byScript].sort((a, b) => b[1][1] - a[1][1]).slice(0, 12))
    console.log(
      `${name.padEnd(30)} ${(c / N).toFixed(3).padStart(10)} ${(us / N).toFixed(1).padStart(9)} ${(us / c).toFixed(0).padStart(9)}`,
    );
}
// the AOF in RESP: count bytes by command name (the first bulk string of each array)
const text = readFileSync(join(aofDir, aofFiles().at(-1) as string), 'latin1');
const byCmd = new Map<string, [number, number]>();
let i = 0;
while (i < text.length) {
  if (text[i] !== '*') {
    i++;
    continue;
  }
  const start = i;
  const nl = text.indexOf('\r\n', i);
  const argc = Number(text.slice(i + 1, nl));
  i = nl + 2;
  let name = '';
  for (let a = 0; a < argc; a++) {
    const l = text.indexOf('\r\n', i);
    const len = Number(text.slice(i + 1, l));
    const arg = text.slice(l + 2, l + 2 + len);
    if (a === 0) name = arg.toUpperCase();
    if (a === 1 && name !== 'SELECT' && name !== 'MULTI' && name !== 'EXEC')
      name += ` ${arg.replace(/[0-9a-f-]{36}/, '<id>').replace(/:[0-9a-f]{8}-.*$/, ':<id>')}`;
    i = l + 2 + len + 2;
  }
  const entry = byCmd.get(name) ?? [0, 0];
  entry[0]++;
  entry[1] += i - start;
  byCmd.set(name, entry);
}
console.log('AOF by command (whole file incl. backlog writes)          count/task  bytes/task');
for (const [name, [c, b]] of [...byCmd].sort((a, b) => b[1][1] - a[1][1]).slice(0, 25))
  console.log(`${name.slice(0, 55).padEnd(58)} ${(c / N).toFixed(2).padStart(8)} ${(b / N).toFixed(0).padStart(10)}`);
await sinkPool.close();
redis.disconnect();
await server.stop();
process.exit(0);
