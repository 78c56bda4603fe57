import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createHeaderCipher, parseEncryptionKey } from '../../src/adapters/crypto/header-cipher.ts';
import type { BreakerChange } from '../../src/adapters/http/breakers.ts';
import type { ResolveHost } from '../../src/adapters/http/guarded-connect.ts';
import type { Logger } from '../../src/adapters/logging/logger.ts';
import type { InFlightLimits } from '../../src/adapters/redis/in-flight.ts';
import { redisKeys } from '../../src/adapters/redis/keys.ts';
import { RedisTaskStore } from '../../src/adapters/redis/task-store.ts';
import { type RunningWorker, startWorker } from '../../src/adapters/worker/worker.ts';
import { buildApp } from '../../src/api/app.ts';
import type { AuthMode } from '../../src/api/auth.ts';
import type { BreakerSettings } from '../../src/domain/breaker/host-breaker.ts';
import { parseTiers } from '../../src/domain/client/tier.ts';
import { parseTargetAllowlist } from '../../src/domain/net/target-policy.ts';
import { defaultQueues } from '../../src/domain/queue/queue.ts';
import type { RetryPolicy } from '../../src/domain/retry/backoff.ts';
import { PROJECTIONS } from '../../src/projections/index.ts';
import { Projector } from '../../src/projections/projector.ts';
import { redisUrl } from './store.ts';

export type ServiceOptions = {
  retry?: RetryPolicy;
  concurrency?: number;
  leaseMs?: number;
  attemptTimeoutMs?: number;
  adminKey?: string;
  projectorLockMs?: number;
  /** Tier limits the workers hold clients to (the lease script reads each client's tier from Redis). */
  inFlightLimits?: InFlightLimits;
  /** Worker instances sharing this service's Redis, as separate worker processes would (default 1). */
  workers?: number;
  /** ENCRYPTION_KEY for the API and the workers (32 bytes, base64 or hex); unset = secrets stored as given. */
  encryptionKey?: string;
  /** Instead of a pino at TEST_LOG_LEVEL (default silent), e.g. one writing to a stream the test reads. */
  log?: Logger;
  /**
   * ALLOW_PRIVATE_URLS. Defaults to true here, unlike in production: the tests' HTTP targets listen on
   * 127.0.0.1, which the SSRF guard blocks otherwise. The SSRF tests set it to false.
   */
  allowPrivateUrls?: boolean;
  /** TARGET_ALLOWLIST, as the environment variable spells it. */
  targetAllowlist?: string;
  /** How the worker resolves target host names (e.g. through a test's own DNS server). */
  resolveHost?: ResolveHost;
  /**
   * AUTH_MODE. Defaults to 'open' here, unlike in production (keys): most end-to-end tests exercise tasks, not
   * auth, and call /v1 without a key. The tests of auth, tenants and rate limits pass 'keys'.
   */
  authMode?: AuthMode;
  /** TIERS, as the environment variable spells it (default: the seed's tiers). */
  tiers?: string;
  /** CB_* for every worker's circuit breakers; unset = no breakers (failing targets are retried as before). */
  breaker?: BreakerSettings;
  /** Told of every breaker change of every worker. */
  onBreakerChange?: (change: BreakerChange) => void;
};

/** The whole service in this process (API + worker + promoter) on the test redis-server, under its own prefix. */
export const startService = async (options: ServiceOptions = {}) => {
  const log = options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const cipher = options.encryptionKey ? createHeaderCipher(parseEncryptionKey(options.encryptionKey)) : null;
  const keys = redisKeys(`t-${randomUUID()}`);
  const connect = () => new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const [main, workerRedis, blocking, subscriber, projectorBlocking] = [
    connect(),
    connect(),
    connect(),
    connect(),
    connect(),
  ];
  const queues = defaultQueues(
    options.retry ?? { maxRetries: 5, minBackoffMs: 1000, maxBackoffMs: 3_600_000 },
    options.attemptTimeoutMs ?? 30_000,
  );
  const store = new RedisTaskStore(main, keys, { cipher });
  const targets = {
    allowPrivate: options.allowPrivateUrls ?? true,
    allowlist: parseTargetAllowlist(options.targetAllowlist ?? ''),
  };
  const app = await buildApp({
    store,
    queueNames: queues.map((q) => q.name),
    log,
    targets,
    authMode: options.authMode ?? 'open',
    ...(options.tiers === undefined ? {} : { tiers: parseTiers(options.tiers) }),
    ...(options.adminKey === undefined ? {} : { adminKey: options.adminKey }),
  });
  const extraConnections: Redis[] = [];
  const workers: RunningWorker[] = [];
  for (let i = 0; i < (options.workers ?? 1); i++) {
    const own =
      i === 0
        ? { commands: workerRedis, blocking, subscriber }
        : { commands: connect(), blocking: connect(), subscriber: connect() };
    if (i > 0) extraConnections.push(own.commands, own.blocking, own.subscriber);
    workers.push(
      await startWorker({
        redis: own,
        keys,
        queues,
        workerId: `test-worker-${randomUUID().slice(0, 8)}`,
        concurrency: options.concurrency ?? 10,
        leaseMs: options.leaseMs ?? 30_000,
        log,
        blockMs: 200,
        ...(options.inFlightLimits === undefined ? {} : { inFlightLimits: options.inFlightLimits }),
        cipher,
        targets,
        ...(options.resolveHost === undefined ? {} : { resolveHost: options.resolveHost }),
        ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
        ...(options.onBreakerChange === undefined ? {} : { onBreakerChange: options.onBreakerChange }),
      }),
    );
  }
  const projector = new Projector({
    redis: workerRedis,
    blocking: projectorBlocking,
    keys,
    projections: PROJECTIONS,
    log,
    idleWaitMs: 200,
    lockMs: options.projectorLockMs ?? 10_000,
    retiredGraceMs: 200,
  });
  projector.start();
  return {
    app,
    projector,
    store,
    keys,
    redis: main,
    queues,
    workers,
    stop: async () => {
      for (const worker of workers) for (const [, stop] of worker.stops) await stop(5000);
      await projector.stop();
      await app.close();
      await Promise.all(
        [main, workerRedis, blocking, subscriber, projectorBlocking, ...extraConnections].map((c) => c.quit()),
      );
    },
  };
};
