import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import type { Keys } from '../../adapters/redis/keys.ts';
import { projectionLags } from '../../projections/generations.ts';
import { PROJECTION_NAMES } from '../../projections/index.ts';

export const healthRoutes: FastifyPluginAsync<{ redis: Redis; keys: Keys }> = async (app, { redis, keys }) => {
  /** Liveness: the process is up and serving. */
  app.get('/health', async () => ({ status: 'ok' }));

  /**
   * Readiness: Redis answers. The projections' lag is reported, not judged: a lagging read side delays lists
   * and counts, but the API must keep accepting tasks while the projectors catch up.
   */
  app.get('/health/ready', async (_req, reply) => {
    try {
      await redis.ping();
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', message: `redis: ${(err as Error).message}` });
    }
    try {
      const lags = await projectionLags(redis, keys, PROJECTION_NAMES);
      return { status: 'ready', projections: lags.map((l) => ({ name: l.name, lag: l.lag })) };
    } catch (err) {
      return { status: 'ready', projections: null, message: `projection lag unknown: ${(err as Error).message}` };
    }
  });
};
