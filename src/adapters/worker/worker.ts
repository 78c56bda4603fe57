import type { Redis } from 'ioredis';
import type { BreakerSettings } from '../../domain/breaker/host-breaker.ts';
import type { TargetPolicy } from '../../domain/net/target-policy.ts';
import type { QueueConfig } from '../../domain/queue/queue.ts';
import type { HeaderCipher } from '../crypto/header-cipher.ts';
import { type BreakerChange, createHostBreakers, type HostBreakers, logBreakerChange } from '../http/breakers.ts';
import { createHttpDispatcher } from '../http/dispatcher.ts';
import type { ResolveHost } from '../http/guarded-connect.ts';
import type { Logger } from '../logging/logger.ts';
import type { InFlightLimits } from '../redis/in-flight.ts';
import type { Keys } from '../redis/keys.ts';
import { RedisTaskStore } from '../redis/task-store.ts';
import { Processor } from './processor.ts';
import { Promoter } from './promoter.ts';

export type WorkerOptions = Readonly<{
  /** Three connections of the worker's own: commands, the blocking wait for work, the wake subscription. */
  redis: Readonly<{ commands: Redis; blocking: Redis; subscriber: Redis }>;
  keys: Keys;
  queues: readonly QueueConfig[];
  workerId: string;
  concurrency: number;
  leaseMs: number;
  log: Logger;
  blockMs?: number;
  /** Where tasks may be delivered (the SSRF guard: ALLOW_PRIVATE_URLS, TARGET_ALLOWLIST). */
  targets: TargetPolicy;
  /** How target host names are resolved; the system resolver unless a test brings its own DNS server. */
  resolveHost?: ResolveHost;
  inFlightLimits?: InFlightLimits;
  /** Opens secret header values to dispatch them (ENCRYPTION_KEY); a task it cannot open is left where it is. */
  cipher?: HeaderCipher | null;
  /** Per target host circuit breakers (CB_*); unset = none, every call is made. */
  breaker?: BreakerSettings;
  /** Told of every breaker change, besides the log line (tests watch them). */
  onBreakerChange?: (change: BreakerChange) => void;
}>;

export type RunningWorker = Readonly<{
  /** Shutdown order: drain the processor (calls in flight finish) → stop the promoter → close HTTP. */
  stops: readonly [string, (graceMs: number) => Promise<void>][];
  /** This worker's own breakers (each worker learns a host's health on its own); null without `breaker`. */
  breakers: HostBreakers | null;
}>;

/** Starts a worker: the processor (lease, dispatch, record) and the promoter (release due tasks). */
export const startWorker = async (o: WorkerOptions): Promise<RunningWorker> => {
  const store = new RedisTaskStore(o.redis.commands, o.keys, { cipher: o.cipher ?? null });
  const guardLog = o.log.child({ component: 'ssrf-guard', workerId: o.workerId });
  const http = createHttpDispatcher({
    targets: o.targets,
    ...(o.resolveHost === undefined ? {} : { resolveHost: o.resolveHost }),
    // the tenant's error names only the kind of range; the operator gets the address here
    onBlocked: (blocked) => guardLog.warn(blocked, 'blocked destination'),
  });
  const breakers = o.breaker ? createBreakers(o.breaker, o) : null;
  const processor = new Processor({
    store,
    blocking: o.redis.blocking,
    dispatch: http.dispatch,
    queues: o.queues,
    workerId: o.workerId,
    concurrency: o.concurrency,
    leaseMs: o.leaseMs,
    log: o.log.child({ component: 'processor', workerId: o.workerId }),
    ...(o.blockMs === undefined ? {} : { blockMs: o.blockMs }),
    ...(o.inFlightLimits === undefined ? {} : { inFlightLimits: o.inFlightLimits }),
    ...(breakers ? { breakers } : {}),
  });
  const promoter = new Promoter({ store, subscriber: o.redis.subscriber, log: o.log.child({ component: 'promoter' }) });
  await processor.start();
  await promoter.start();
  return {
    stops: [
      ['processor', (graceMs) => processor.stop(graceMs)],
      ['promoter', () => promoter.stop()],
      ['http dispatcher', () => http.close()],
    ],
    breakers,
  };
};

const createBreakers = (settings: BreakerSettings, o: WorkerOptions): HostBreakers => {
  const log = logBreakerChange(o.log.child({ component: 'breakers', workerId: o.workerId }), settings);
  return createHostBreakers(settings, {
    onChange: (change) => {
      log(change);
      o.onBreakerChange?.(change);
    },
  });
};
