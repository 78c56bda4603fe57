import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Config, loadConfig } from './adapters/config/env.ts';
import { createHeaderCipher, parseEncryptionKey } from './adapters/crypto/header-cipher.ts';
import { createLogger, type Logger } from './adapters/logging/logger.ts';
import { connected, createRedis } from './adapters/redis/client.ts';
import { ClientRegistry } from './adapters/redis/client-registry.ts';
import { inFlightLimits } from './adapters/redis/in-flight.ts';
import { redisKeys } from './adapters/redis/keys.ts';
import { ensureLocalRedis } from './adapters/redis/local-server.ts';
import { RedisTaskStore } from './adapters/redis/task-store.ts';
import { startWorker } from './adapters/worker/worker.ts';
import { parseTiers } from './domain/client/tier.ts';
import { parseTargetAllowlist } from './domain/net/target-policy.ts';
import { defaultQueues } from './domain/queue/queue.ts';
import { startProjectorThread } from './projections/projector-thread.ts';
import { Retention } from './projections/retention.ts';

/**
 * The composition root: reads the config, builds the adapters and starts what MODE asks for.
 * Shutdown order on SIGTERM/SIGINT: stop accepting HTTP → stop leasing and drain calls in flight →
 * stop the promoter → the projector → retention (after its current batch) → close Redis connections →
 * stop a redis-server this process started.
 */
const main = async () => {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`${(err as Error).message}\nsee the configuration table in README.md`);
    process.exit(2);
  }
  const log = createLogger(config.LOG_LEVEL);
  let localRedis: ChildProcess | null = null;
  if (!process.env.REDIS_URL && !config.REDIS_SENTINEL_ADDR) {
    try {
      localRedis = await ensureLocalRedis(config.REDIS_DATA_DIR, log);
    } catch (err) {
      log.fatal((err as Error).message);
      process.exit(1);
    }
  }

  const workerId = config.WORKER_ID || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const queues = defaultQueues(
    {
      maxRetries: config.MAX_RETRY,
      minBackoffMs: Math.round(config.RETRY_MIN_BACKOFF_SEC * 1000),
      maxBackoffMs: Math.round(config.RETRY_MAX_BACKOFF_SEC * 1000),
    },
    Math.round(config.TASK_TIMEOUT_SEC * 1000),
  );
  const keys = redisKeys(config.REDIS_PREFIX);
  const targets = {
    allowPrivate: config.ALLOW_PRIVATE_URLS,
    allowlist: parseTargetAllowlist(config.TARGET_ALLOWLIST),
  };
  const cipher = config.ENCRYPTION_KEY ? createHeaderCipher(parseEncryptionKey(config.ENCRYPTION_KEY)) : null;
  const runApi = config.MODE !== 'worker';
  const runWorker = config.MODE !== 'api';
  const mainRedis = createRedis(config, runApi ? 'api' : 'worker', 'main');
  const connections = [mainRedis];
  try {
    await connected(mainRedis);
  } catch (err) {
    log.fatal((err as Error).message);
    localRedis?.kill('SIGTERM');
    process.exit(1);
  }
  const stops: [string, () => Promise<void>][] = [];

  if (runApi) {
    // loaded only when serving HTTP: a worker process starts without fastify (about 1 s less CPU at start)
    const { buildApp } = await import('./api/app.ts');
    const store = new RedisTaskStore(mainRedis, keys, { cipher });
    const app = await buildApp({
      store,
      queueNames: queues.map((q) => q.name),
      log,
      adminKey: config.ADMIN_API_KEY,
      asOfMaxEvents: config.AS_OF_MAX_EVENTS,
      targets,
      authMode: config.AUTH_MODE,
      tiers: parseTiers(config.TIERS),
    });
    await app.listen({ port: config.PORT, host: '0.0.0.0' });
    stops.push(['http server', () => app.close()]);
    await announceAuth(config.AUTH_MODE, new ClientRegistry(mainRedis, keys), log);
  }
  if (runWorker) {
    // a worker-only process reuses its main connection (opened as a worker one) instead of opening another
    const workerRedis = runApi ? createRedis(config, 'worker', 'worker') : mainRedis;
    const blocking = createRedis(config, 'worker', 'blocking');
    const subscriber = createRedis(config, 'worker', 'subscriber');
    connections.push(...(runApi ? [workerRedis] : []), blocking, subscriber);
    const worker = await startWorker({
      redis: { commands: workerRedis, blocking, subscriber },
      keys,
      queues,
      workerId,
      concurrency: config.WORKER_CONCURRENCY,
      leaseMs: config.LEASE_SEC * 1000,
      log,
      inFlightLimits: inFlightLimits(parseTiers(config.TIERS)),
      breaker: {
        failureThreshold: config.CB_FAILURE_THRESHOLD,
        openMs: Math.round(config.CB_TIMEOUT_SEC * 1000),
        maxProbes: config.CB_MAX_REQUESTS,
        intervalMs: Math.round(config.CB_INTERVAL_SEC * 1000),
      },
      cipher,
      targets,
    });
    for (const [name, stop] of worker.stops) stops.push([name, () => stop(config.SHUTDOWN_GRACE_SEC * 1000)]);

    const projector = startProjectorThread(config, log);
    stops.push(['projector', () => projector.stop()]);

    const retention = new Retention({
      store: new RedisTaskStore(workerRedis, keys),
      log: log.child({ component: 'retention' }),
      retentionMs: config.RETENTION_HOURS * 3_600_000,
      intervalMs: config.RETENTION_INTERVAL_SEC * 1000,
      archiveDir: config.LEDGER_ARCHIVE_DIR,
    });
    retention.start();
    stops.push(['retention', () => retention.stop()]);
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // with Redis gone every step could wait forever: past the grace period (and a margin), stop regardless;
    // calls not recorded by then are redelivered after their leases expire
    const deadline = setTimeout(
      () => {
        log.error('shutdown did not finish in time; exiting');
        localRedis?.kill('SIGTERM');
        process.exit(1);
      },
      config.SHUTDOWN_GRACE_SEC * 1000 + 10_000,
    );
    deadline.unref();
    await runAll(stops, log);
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    localRedis?.kill('SIGTERM');
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // only now: a process that says it started must already handle SIGTERM (an orchestrator may send it at once)
  // the key id (not the key) lets an operator see that every process runs with the same ENCRYPTION_KEY
  const encryptionKeyId = cipher?.keyId ?? null;
  log.info(
    { mode: config.MODE, port: runApi ? config.PORT : undefined, workerId, encryptionKeyId },
    'task dispatcher started',
  );
  // the API is where secret headers are stored; in AUTH_MODE=open (local development) the warning is noise
  if (runApi && config.AUTH_MODE === 'keys' && !cipher) {
    log.warn(
      { generate: 'openssl rand -base64 32' },
      'ENCRYPTION_KEY is not set: secret header values (Authorization, X-Api-Key, …) are stored in Redis as given; set ENCRYPTION_KEY to the same 32-byte key on every API and worker process to store them encrypted',
    );
  }
};

/** AUTH_MODE=open is for local development only; in keys mode a fresh install first needs a client and its key. */
const announceAuth = async (mode: Config['AUTH_MODE'], clients: ClientRegistry, log: Logger) => {
  if (mode === 'open') {
    log.warn(
      'AUTH_MODE=open: /v1 accepts every call without an API key and without rate limits; for local development only',
    );
    return;
  }
  if ((await clients.count().catch(() => 1)) > 0) return;
  log.warn(
    { create: 'npm run cli -- clients create my-service' },
    'no API client is registered yet: every /v1 call answers 401 until one is created (the command prints its key)',
  );
};

const runAll = async (steps: readonly [string, () => Promise<void>][], log: Logger) => {
  for (const [name, step] of steps) {
    try {
      await step();
      log.debug({ step: name }, 'stopped');
    } catch (err) {
      log.error({ err, step: name }, 'shutdown step failed');
    }
  }
};

await main();
