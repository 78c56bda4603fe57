/**
 * The cost of the read side: a ledger of N finished tasks (enqueued, leased, attempted, succeeded: 4 events
 * each) is written to a fresh redis-server, then one Projector applies it to every projection. Prints Redis CPU,
 * projector CPU and Redis memory per task, and the Redis commands it used (INFO commandstats).
 *   N=20000 B=500 npm run bench:projections
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { encodeEvent } from '../src/adapters/redis/codec.ts';
import { redisKeys } from '../src/adapters/redis/keys.ts';
import { newTaskId } from '../src/api/task-id.ts';
import { record } from '../src/domain/task/events.ts';
import { PROJECTIONS } from '../src/projections/index.ts';
import { Projector } from '../src/projections/projector.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { endWhatWeStartOnExit, trackServer } from './support.ts';

const N = Number(process.env.N ?? 20_000);
const BATCH = Number(process.env.B ?? 500);

endWhatWeStartOnExit();
const server = trackServer(await startRedisServer());
const redis = new Redis(server.url);
const blocking = new Redis(server.url);
const keys = redisKeys('bench');
const info = async (section: string, field: string) =>
  Number(new RegExp(`${field}:([\\d.]+)`).exec(await redis.info(section))?.[1] ?? Number.NaN);
const redisCpu = async () => (await info('cpu', 'used_cpu_user')) + (await info('cpu', 'used_cpu_sys'));

const at = Date.now();
for (let i = 0; i < N; i += 500) {
  const pipeline = redis.pipeline();
  for (let j = 0; j < Math.min(500, N - i); j++) {
    const id = newTaskId(at);
    const events = record(id, 0, at, [
      { type: 'enqueued', data: { queue: 'default', clientId: 'bench', scheduleTime: at } },
      { type: 'leased', data: { attempt: 1, workerId: 'w' } },
      { type: 'attempted', data: { attempt: 1, workerId: 'w', status: 200, latencyMs: 3, error: null } },
      { type: 'succeeded', data: { attempt: 1 } },
    ]);
    for (const e of events) pipeline.xadd(keys.events, '*', 'id', id, 'e', encodeEvent(e));
  }
  await pipeline.exec();
}
const memory0 = await info('memory', 'used_memory');
await redis.config('RESETSTAT');
const cpu0 = await redisCpu();
const node0 = process.cpuUsage();
const projector = new Projector({
  redis,
  blocking,
  keys,
  projections: PROJECTIONS,
  log: pino({ level: 'silent' }),
  batchSize: BATCH,
});
const started = Date.now();
while ((await projector.step()) > 0) {}
const ms = Date.now() - started;
const node = process.cpuUsage(node0);
const cpu1 = await redisCpu();
const memory1 = await info('memory', 'used_memory');
console.log(`${N.toLocaleString('en-US')} tasks, ${(4 * N).toLocaleString('en-US')} events, batches of ${BATCH}`);
console.log(`  applied in ${ms} ms (${Math.round((4 * N) / (ms / 1000)).toLocaleString('en-US')} events/s)`);
console.log(`  Redis CPU     ${(((cpu1 - cpu0) * 1e6) / N).toFixed(1)} µs/task`);
console.log(`  projector CPU ${((node.user + node.system) / N).toFixed(1)} µs/task`);
console.log(`  Redis memory  ${Math.round((memory1 - memory0) / N)} bytes/task`);
const stats = (await redis.info('commandstats')).split('\n').filter((l) => l.includes('calls='));
for (const line of stats) {
  const [, name, calls, usec] = /cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line) ?? [];
  if (name && Number(usec) > 1000)
    console.log(
      `  ${name.padEnd(12)} ${calls?.padStart(7)} calls ${(Number(usec) / N).toFixed(1).padStart(6)} µs/task`,
    );
}
await projector.stop();
redis.disconnect();
blocking.disconnect();
await server.stop();
