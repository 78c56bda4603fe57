import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { digestApiKey, sameDigest } from '../../adapters/auth/api-keys.ts';
import { ledgerStart } from '../../adapters/redis/ledger.ts';
import { guardStorage, type RedisTaskStore } from '../../adapters/redis/task-store.ts';
import { projectionLags, startRebuild } from '../../projections/generations.ts';
import { PROJECTION_NAMES } from '../../projections/index.ts';

export type AdminRoutesOptions = Readonly<{ store: RedisTaskStore; adminKey: string }>;

const TRIMMED_WARNING =
  'retention has trimmed the ledger in Redis: the rebuilt projection misses the usage of the trimmed days; ' +
  'rebuild with `task-dispatcher ledger replay` and the archive to keep it';

/** Compares digests, so neither the length nor the content of the key leaks through timing. */
const sameKey = (given: string, expected: string) => sameDigest(digestApiKey(expected), digestApiKey(given));

/**
 * The onRequest hook of every admin route: X-Admin-Key must equal ADMIN_API_KEY. Without ADMIN_API_KEY the admin
 * API is disabled (every call answers 403), never open.
 */
export const adminGuard = (adminKey: string) => async (req: FastifyRequest, reply: FastifyReply) => {
  if (adminKey === '') {
    return reply.code(403).send({ error: 'admin_disabled', message: 'the admin API is disabled: set ADMIN_API_KEY' });
  }
  const given = req.headers['x-admin-key'];
  if (typeof given !== 'string' || given === '') {
    return reply.code(401).send({ error: 'unauthenticated', message: 'send the admin key in X-Admin-Key' });
  }
  if (!sameKey(given, adminKey)) return reply.code(403).send({ error: 'forbidden', message: 'wrong admin key' });
};

/** The admin API, under /admin, guarded by X-Admin-Key (see adminGuard). */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { store, adminKey }) => {
  app.addHook('onRequest', adminGuard(adminKey));

  app.get('/admin/projections', async () =>
    guardStorage('read projections', async () => ({
      projections: await projectionLags(store.redis, store.keys, PROJECTION_NAMES),
    })),
  );

  /**
   * Starts a rebuild; the projectors of the worker processes build the new generation and switch reads over
   * once it has caught up. Progress: GET /admin/projections.
   */
  app.post<{ Params: { name: string } }>('/admin/projections/:name/rebuild', async (req, reply) => {
    const { name } = req.params;
    if (!PROJECTION_NAMES.includes(name)) {
      return reply.code(404).send({
        error: 'NotFound',
        message: `no projection named ${name}; expected one of ${PROJECTION_NAMES.join(', ')}`,
      });
    }
    const { gen } = await guardStorage('start rebuild', () => startRebuild(store.redis, store.keys, name, null));
    const trimmed = (await guardStorage('read the ledger', () => ledgerStart(store.redis, store.keys))).trimmed;
    return reply.code(202).send({
      projection: name,
      generation: gen,
      progress: '/admin/projections',
      ...(trimmed ? { warning: TRIMMED_WARNING } : {}),
    });
  });
};
