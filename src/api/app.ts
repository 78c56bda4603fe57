import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../adapters/logging/logger.ts';
import { ClientRegistry } from '../adapters/redis/client-registry.ts';
import { RateLimiter } from '../adapters/redis/rate-limiter.ts';
import type { RedisTaskStore } from '../adapters/redis/task-store.ts';
import { DEFAULT_TIERS_SPEC, parseTiers, type Tiers } from '../domain/client/tier.ts';
import type { TargetPolicy } from '../domain/net/target-policy.ts';
import { MAX_TASK_BYTES } from '../domain/task/validate.ts';
import { type AuthMode, registerAuth } from './auth.ts';
import { errorHandler } from './errors.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { enqueueQuota } from './quota.ts';
import { adminRoutes } from './routes/admin.ts';
import { clientRoutes } from './routes/clients.ts';
import { healthRoutes } from './routes/health.ts';
import { queueControlRoutes, readRoutes } from './routes/read.ts';
import { taskRoutes } from './routes/tasks.ts';

export type AppDeps = Readonly<{
  store: RedisTaskStore;
  queueNames: readonly string[];
  log: Logger;
  now?: () => number;
  /** ADMIN_API_KEY; '' disables the admin API. */
  adminKey?: string;
  asOfMaxEvents?: number;
  /** The SSRF guard's settings, to refuse blocked IP-literal targets at enqueue; main.ts always passes them. */
  targets?: TargetPolicy;
  /** AUTH_MODE: `keys` (the default) needs a client's API key on every /v1 call; `open` is for local development. */
  authMode?: AuthMode;
  /** TIERS: each client's enqueue rate limit comes from its tier. */
  tiers?: Tiers;
}>;

/** Builds the HTTP API from its dependencies; nothing here reads the environment. */
export const buildApp = async ({
  store,
  queueNames,
  log,
  now = Date.now,
  adminKey = '',
  asOfMaxEvents = 500_000,
  targets,
  authMode = 'keys',
  tiers = parseTiers(DEFAULT_TIERS_SPEC),
}: AppDeps): Promise<FastifyInstance> => {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // room for a 1 MB task once JSON-escaped; the task's own 1 MB limit is checked on the decoded values.
    // POST /v1/enqueue:batch raises its own limit to MAX_BATCH_BODY_BYTES (16 MB), see routes/tasks.ts
    bodyLimit: 4 * MAX_TASK_BYTES,
    // task ids may be up to 500 characters, as in Cloud Tasks
    routerOptions: { maxParamLength: 1024 },
    // one log line per request would dominate the log at enqueue rates; attempts are logged instead
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setErrorHandler(errorHandler);
  // only JSON bodies are accepted; anything else is 415 rather than a parse error
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }),
  );
  const clients = new ClientRegistry(store.redis, store.keys);
  // before the routes, so that its hook covers every /v1 route
  registerAuth(app, { mode: authMode, authenticate: (key) => clients.authenticate(key) });
  const quota = enqueueQuota(authMode === 'keys' ? new RateLimiter(store.redis, store.keys) : null, tiers);
  await app.register(healthRoutes, { redis: store.redis, keys: store.keys });
  await app.register(taskRoutes, { store, queueNames, now, targets, quota });
  await app.register(readRoutes, { store, queueNames, now, asOfMaxEvents });
  await app.register(queueControlRoutes, { store, queueNames });
  await app.register(adminRoutes, { store, adminKey });
  await app.register(clientRoutes, { clients, tiers, adminKey });
  return app;
};
