import type { FastifyPluginAsync } from 'fastify';
import { inFlightOf } from '../../adapters/redis/in-flight.ts';
import { guardStorage, type RedisTaskStore } from '../../adapters/redis/task-store.ts';
import { DomainError } from '../../domain/task/errors.ts';
import { AsOfError, queueCountsAsOf } from '../../projections/as-of.ts';
import { projectionLags } from '../../projections/generations.ts';
import { PROJECTION_NAMES } from '../../projections/index.ts';
import {
  dailyUsage,
  knownQueues,
  listTaskIds,
  oldestPendingAgeMs,
  statusCounts,
} from '../../projections/read-models.ts';
import { forAction, mayAccess, principalOf } from '../auth.ts';
import { invalidRequest } from '../errors.ts';
import { parseAsOf, parseDays, parseListQuery } from '../read-query.ts';
import { taskView } from '../views.ts';

export type ReadRoutesOptions = Readonly<{
  store: RedisTaskStore;
  queueNames: readonly string[];
  now: () => number;
  asOfMaxEvents: number;
}>;

type Query = Record<string, unknown>;

const iso = (ms: number) => new Date(ms).toISOString();
const projectionView = (lags: Awaited<ReturnType<typeof projectionLags>>) =>
  lags.map((l) => ({
    name: l.name,
    generation: l.generation,
    lag: l.lag,
    rebuilding: l.rebuilding && { generation: l.rebuilding.generation, lag: l.rebuilding.lag },
  }));

/** The read side: lists and stats from the projections, time travel by replay. */
export const readRoutes: FastifyPluginAsync<ReadRoutesOptions> = async (
  app,
  { store, queueNames, now, asOfMaxEvents },
) => {
  const { redis, keys } = store;
  const allQueues = async () => [...new Set([...queueNames, ...(await knownQueues(redis, keys))])].sort();
  const queueExists = async (queue: string) => {
    if (!(await allQueues()).includes(queue)) throw new DomainError('NotFound', `queue ${queue} not found`);
  };
  /** `paused` is read once per request by the caller, not once per queue. */
  const queueSummary = async (queue: string, at: number, paused: ReadonlySet<string>) => {
    const [counts, oldest, [today]] = await Promise.all([
      statusCounts(redis, keys, { queue }),
      oldestPendingAgeMs(redis, keys, queue, at),
      dailyUsage(redis, keys, { queue }, at, 1),
    ]);
    return { name: queue, paused: paused.has(queue), counts, oldest_pending_age_ms: oldest, today };
  };

  /** A key with only its own client's access lists that client's tasks (client_id defaults to it). */
  app.get('/v1/tasks', forAction('listTasks'), async (req, reply) => {
    const parsed = parseListQuery(req.query as Query);
    if (!parsed.ok) return reply.code(400).send(invalidRequest(parsed.errors));
    const caller = principalOf(req);
    if (caller.access === 'own' && parsed.value.clientId !== undefined && parsed.value.clientId !== caller.clientId) {
      return reply.code(403).send({
        error: 'forbidden',
        message: `client_id: this API key may list only the tasks of client ${caller.clientId}`,
      });
    }
    const q = caller.access === 'own' ? { ...parsed.value, clientId: caller.clientId as string } : parsed.value;
    return guardStorage('list tasks', async () => {
      const loaded = new Map<string, Awaited<ReturnType<typeof store.loadMany>>[number]>();
      const { ids, nextCursor } = await listTaskIds(redis, keys, q, async (page) => {
        const snaps = await store.loadMany(page);
        const kept: string[] = [];
        page.forEach((id, i) => {
          const snap = snaps[i];
          // expunged meanwhile, or filed under another queue than asked for (listing by client and queue)
          if (!snap || (q.queue !== undefined && snap.task.queue !== q.queue)) return;
          if (!mayAccess(req, snap.task.clientId)) return;
          loaded.set(id, snap);
          kept.push(id);
        });
        return kept;
      });
      return {
        tasks: ids.map((id) => taskView((loaded.get(id) as NonNullable<ReturnType<typeof loaded.get>>).task)),
        next_cursor: nextCursor,
      };
    });
  });

  app.get('/v1/queues', forAction('readQueues'), async (req, reply) => {
    if (Object.keys(req.query as Query).length > 0) {
      return reply
        .code(400)
        .send(invalidRequest([{ field: Object.keys(req.query as Query)[0] as string, expected: 'no parameters' }]));
    }
    return guardStorage('read queues', async () => {
      const at = now();
      const paused = await store.pausedQueues();
      const queues = await Promise.all((await allQueues()).map((q) => queueSummary(q, at, paused)));
      return { queues, projections: projectionView(await projectionLags(redis, keys, PROJECTION_NAMES)) };
    });
  });

  app.get<{ Params: { queue: string } }>('/v1/queues/:queue', forAction('readQueues'), async (req, reply) => {
    const parsed = parseAsOf(req.query as Query);
    if (!parsed.ok) return reply.code(400).send(invalidRequest(parsed.errors));
    const { queue } = req.params;
    return guardStorage('read queue', async () => {
      await queueExists(queue);
      const at = now();
      if (parsed.value !== null) {
        const asOf = parsed.value;
        if (asOf > at)
          return reply.code(400).send(invalidRequest([{ field: 'as_of', expected: 'a time in the past' }]));
        try {
          const r = await queueCountsAsOf(redis, keys, queue, asOf, asOfMaxEvents);
          return {
            name: queue,
            as_of: iso(asOf),
            counts: r.counts,
            replayed_events: r.replayedEvents,
            ledger_from: r.ledgerFrom === null ? null : iso(r.ledgerFrom),
            complete: r.complete,
          };
        } catch (err) {
          if (err instanceof AsOfError) return reply.code(422).send({ error: err.code, message: err.message });
          throw err;
        }
      }
      const [summary, days] = await Promise.all([
        queueSummary(queue, at, await store.pausedQueues()),
        dailyUsage(redis, keys, { queue }, at, 7),
      ]);
      return { ...summary, days, projections: projectionView(await projectionLags(redis, keys, PROJECTION_NAMES)) };
    });
  });

  /** Another client's stats answer 404, as its tasks do. */
  app.get<{ Params: { client_id: string } }>(
    '/v1/clients/:client_id/stats',
    forAction('clientStats'),
    async (req, reply) => {
      const clientId = req.params.client_id;
      if (!mayAccess(req, clientId)) throw new DomainError('NotFound', `no client ${clientId}`);
      const parsed = parseDays(req.query as Query);
      if (!parsed.ok) return reply.code(400).send(invalidRequest(parsed.errors));
      return guardStorage('read client stats', async () => {
        const [counts, days, limits] = await Promise.all([
          statusCounts(redis, keys, { clientId }),
          dailyUsage(redis, keys, { clientId }, now(), parsed.value),
          inFlightOf(redis, keys, clientId),
        ]);
        return { client_id: clientId, counts, in_flight: limits.inFlight, parked: limits.parked, days };
      });
    },
  );
};

/**
 * `POST /v1/queues/:queue/pause` and `/resume`: workers stop (or resume) leasing from the queue within a second.
 * Tasks keep being accepted, and a call already in flight finishes.
 */
export const queueControlRoutes: FastifyPluginAsync<{ store: RedisTaskStore; queueNames: readonly string[] }> = async (
  app,
  { store, queueNames },
) => {
  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { queue: string } }>(`/v1/queues/:queue/${action}`, forAction('controlQueues'), async (req) => {
      const { queue } = req.params;
      if (!queueNames.includes(queue)) throw new DomainError('NotFound', `queue ${queue} not found`);
      await store.setPaused(queue, action === 'pause');
      return { name: queue, paused: action === 'pause' };
    });
  }
};
