/**
 * The BullMQ side of `bench/compare.ts`: one BullMQ Worker in its own process, as our worker runs in its own
 * (`node src/main.ts`, MODE=worker), so that each one's CPU can be read from /proc on its own.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 QUEUE=bench WORKER_CONCURRENCY=50 node bench/bullmq-worker.ts
 *
 * The processor makes the call our dispatcher makes (undici `request` through one shared Agent, the body
 * drained), fails the job on a non-2xx answer, and returns the status and latency as the job's result, as our
 * worker records them in the task's history. Retention is BullMQ's default (removeOnComplete unset).
 * Prints `ready` once connected; SIGTERM closes the worker (jobs in flight finish) and exits 0.
 */
import { type Job, Worker } from 'bullmq';
import { Agent, request } from 'undici';

type HttpJob = { url: string; method: string; headers: Record<string, string>; body: string };

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const queueName = process.env.QUEUE ?? 'bench';
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 10);

// the same Agent settings as src/adapters/http/dispatcher.ts
const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000, connections: null });

const processor = async (job: Job<HttpJob>) => {
  const started = performance.now();
  const { url, method, headers, body } = job.data;
  const res = await request(url, { dispatcher: agent, method: method as 'POST', headers, body });
  await res.body.dump({ limit: 64 * 1024 });
  if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
  return { status: res.statusCode, latency_ms: Math.round(performance.now() - started) };
};

const worker = new Worker<HttpJob>(queueName, processor, {
  connection: { host: redisUrl.hostname, port: Number(redisUrl.port), maxRetriesPerRequest: null },
  concurrency,
});
worker.on('error', (err) => console.error(`bullmq worker: ${err.message}`));
await worker.waitUntilReady();
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void (async () => {
    await worker.close();
    await agent.close();
    process.exit(0);
  })();
});
