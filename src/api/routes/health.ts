import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';

export const healthRoutes: FastifyPluginAsync<{ redis: Redis }> = async (app, { redis }) => {
  /** Liveness: the process is up and serving. */
  app.get('/health', async () => ({ status: 'ok' }));

  /** Readiness: Redis answers. */
  app.get('/health/ready', async (_req, reply) => {
    try {
      await redis.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', message: `redis: ${(err as Error).message}` });
    }
  });
};
