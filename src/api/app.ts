import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../adapters/logging/logger.ts';
import type { RedisTaskStore } from '../adapters/redis/task-store.ts';
import { MAX_TASK_BYTES } from '../domain/task/validate.ts';
import { errorHandler } from './errors.ts';
import { adminRoutes } from './routes/admin.ts';
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
}>;

/** Builds the HTTP API from its dependencies; nothing here reads the environment. */
export const buildApp = async ({
  store,
  queueNames,
  log,
  now = Date.now,
  adminKey = '',
  asOfMaxEvents = 500_000,
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
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }),
  );
  await app.register(healthRoutes, { redis: store.redis, keys: store.keys });
  await app.register(taskRoutes, { store, queueNames, now });
  await app.register(readRoutes, { store, queueNames, now, asOfMaxEvents });
  await app.register(queueControlRoutes, { store, queueNames });
  await app.register(adminRoutes, { store, adminKey });
  return app;
};
