import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { CommitBatcher } from '../../adapters/redis/commit-batcher.ts';
import { commitFor, type TaskCommit } from '../../adapters/redis/placement.ts';
import type { CommitResult, RedisTaskStore } from '../../adapters/redis/task-store.ts';
import type { TargetPolicy } from '../../domain/net/target-policy.ts';
import { decide } from '../../domain/task/decide.ts';
import { DomainError } from '../../domain/task/errors.ts';
import { record } from '../../domain/task/events.ts';
import { evolve, fold } from '../../domain/task/evolve.ts';
import { initialTask } from '../../domain/task/task.ts';
import { type FieldError, isObject, type Validation, validateEnqueue } from '../../domain/task/validate.ts';
import { enqueueForbidden, mayAccess } from '../auth.ts';
import { invalidRequest } from '../errors.ts';
import { type EnqueueQuota, enqueueQuota } from '../quota.ts';
import { parseAsOf } from '../read-query.ts';
import { EnqueueBatchReply, EnqueueReply, ErrorReply, HistoryReply, TaskParams, TaskReply } from '../schemas.ts';
import { isTaskId, newTaskId } from '../task-id.ts';
import { eventView, requestView, taskView } from '../views.ts';

export type TaskRoutesOptions = Readonly<{
  store: RedisTaskStore;
  queueNames: readonly string[];
  now: () => number;
  /** Refuses IP-literal targets the SSRF guard blocks; absent = no enqueue-time check (the worker still guards). */
  targets?: TargetPolicy | undefined;
  /** The caller's enqueue rate limit (api/quota.ts); absent = none. */
  quota?: EnqueueQuota | undefined;
}>;

export const MAX_BATCH_TASKS = 1000;
/** 1,000 small tasks fit easily; a batch of large tasks must be split (each task may still be 1 MB). */
export const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;

type Enqueued = { status: 'enqueued'; task_id: string; queue: string; client_id: string };
type Rejected = { status: 'rejected'; error: string; message: string; errors?: FieldError[] };

/**
 * Validates one enqueue body and decides its events at `at`; nothing is written. The single and the batch
 * enqueue both go through here, so a task is the same whichever way it came in.
 */
const prepareEnqueue = (
  body: unknown,
  queueNames: readonly string[],
  at: number,
  targets?: TargetPolicy,
): Validation<{ commit: TaskCommit; reply: Enqueued }> => {
  const input = validateEnqueue(body, queueNames, targets);
  if (!input.ok) return input;
  const { clientId, queue, delaySec, request } = input.value;
  const task = initialTask(newTaskId(at));
  const events = decide({ type: 'EnqueueTask', data: { queue, clientId, delayMs: delaySec * 1000 } }, task, at);
  return {
    ok: true,
    value: {
      commit: commitFor(task, record(task.id, 0, at, events), { request }),
      reply: { status: 'enqueued', task_id: task.id, queue, client_id: clientId },
    },
  };
};

/** The batch envelope: an object with only `tasks`, an array of 1 to MAX_BATCH_TASKS items. */
const batchItems = (body: unknown): { ok: true; items: unknown[] } | { ok: false; errors: FieldError[] } => {
  const errors: FieldError[] = [];
  const tasks = isObject(body) ? body.tasks : undefined;
  if (isObject(body)) {
    for (const key of Object.keys(body)) {
      if (key !== 'tasks') errors.push({ field: key, expected: 'no such field; expected only tasks' });
    }
  }
  if (!Array.isArray(tasks) || tasks.length < 1 || tasks.length > MAX_BATCH_TASKS) {
    errors.push({ field: 'tasks', expected: `an array of 1 to ${MAX_BATCH_TASKS} enqueue requests` });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, items: tasks as unknown[] };
};

export const taskRoutes: FastifyPluginAsync<TaskRoutesOptions> = async (
  app,
  { store, queueNames, now, targets, quota = enqueueQuota(null, new Map()) },
) => {
  // new tasks: no command in flight can be about them, so each batch may go to Redis as a command of its own
  const enqueues = new CommitBatcher(store, '', { ownCommand: true });
  const notFound = (id: string) => new DomainError('NotFound', `no task ${id}`);
  /** Another client's task is answered as if it did not exist (no hint that the id is taken). */
  const load = async (id: string, req: FastifyRequest) => {
    const snap = isTaskId(id) ? await store.load(id) : null;
    if (!snap || !mayAccess(req, snap.task.clientId)) throw notFound(id);
    return snap;
  };

  app.post(
    '/v1/enqueue',
    {
      config: { action: 'enqueue' },
      schema: {
        response: {
          200: EnqueueReply,
          400: ErrorReply,
          403: ErrorReply,
          413: ErrorReply,
          429: ErrorReply,
          503: ErrorReply,
        },
      },
    },
    async (req, reply) => {
      const input = prepareEnqueue(req.body, queueNames, now(), targets);
      if (!input.ok) return reply.code(input.tooLarge ? 413 : 400).send(invalidRequest(input.errors));
      const { commit, reply: enqueued } = input.value;
      const forbidden = enqueueForbidden(req, enqueued.client_id);
      if (forbidden) return reply.code(403).send({ error: 'forbidden', message: forbidden });
      const taken = await quota.take(req, [commit.taskId]);
      if (taken.kind === 'refused') return reply.code(taken.status).headers(taken.headers).send(taken.body);
      if (taken.kind === 'taken') reply.headers(taken.headers);
      let result: CommitResult;
      try {
        result = await enqueues.commit(commit);
      } catch (err) {
        await quota.giveBack(req, [commit.taskId]);
        throw err;
      }
      if (result.kind !== 'ok') {
        await quota.giveBack(req, [commit.taskId]);
        throw new DomainError('AlreadyExists', `task ${commit.taskId} already exists`);
      }
      return enqueued;
    },
  );

  /**
   * Many enqueues in one request, each accepted or rejected on its own. The accepted ones go to Redis in one
   * commit call (each task still atomic on its own); a Redis failure fails the whole request with 503.
   * The rate limit counts every accepted item and refuses the whole batch (429) when they do not all fit.
   * `::` is find-my-way's escape for a literal `:`, so the path is `/v1/enqueue:batch`.
   */
  app.post(
    '/v1/enqueue::batch',
    {
      bodyLimit: MAX_BATCH_BODY_BYTES,
      config: { action: 'enqueue' },
      schema: {
        response: {
          200: EnqueueBatchReply,
          400: ErrorReply,
          403: ErrorReply,
          413: ErrorReply,
          429: ErrorReply,
          503: ErrorReply,
        },
      },
    },
    async (req, reply) => {
      const batch = batchItems(req.body);
      if (!batch.ok) return reply.code(400).send(invalidRequest(batch.errors));
      const at = now();
      const results: (Enqueued | Rejected)[] = [];
      const accepted: { index: number; commit: TaskCommit }[] = [];
      for (const item of batch.items) {
        const input = prepareEnqueue(item, queueNames, at, targets);
        const forbidden = input.ok ? enqueueForbidden(req, input.value.reply.client_id) : null;
        if (forbidden) {
          results.push({ status: 'rejected', error: 'forbidden', message: forbidden });
        } else if (input.ok) {
          accepted.push({ index: results.length, commit: input.value.commit });
          results.push(input.value.reply);
        } else {
          const body = invalidRequest(input.errors);
          results.push({ status: 'rejected', ...body, error: input.tooLarge ? 'payload_too_large' : body.error });
        }
      }
      const ids = accepted.map((a) => a.commit.taskId);
      const taken = await quota.take(req, ids);
      if (taken.kind === 'refused') return reply.code(taken.status).headers(taken.headers).send(taken.body);
      if (taken.kind === 'taken') reply.headers(taken.headers);
      const commits = accepted.map((a) => a.commit);
      // new tasks, as in the single enqueue: the call may go to Redis as a command of its own
      const committed = await store.commit(commits, '', { ownCommand: true }).catch(async (err: unknown) => {
        await quota.giveBack(req, ids);
        throw err;
      });
      await quota.giveBack(
        req,
        ids.filter((_, i) => committed[i]?.kind !== 'ok'),
      );
      for (const [i, { index, commit }] of accepted.entries()) {
        // a fresh UUIDv7 colliding is not expected; if it ever does, that item alone is refused
        if (committed[i]?.kind !== 'ok') {
          results[index] = {
            status: 'rejected',
            error: 'AlreadyExists',
            message: `task ${commit.taskId} already exists`,
          };
        }
      }
      return { results };
    },
  );

  /** `?as_of=<RFC 3339>` folds the history up to that instant: the task as it was then. */
  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/v1/tasks/:id',
    { config: { action: 'readTask' }, schema: { params: TaskParams, response: { 200: TaskReply, 404: ErrorReply } } },
    async (req, reply) => {
      const asOf = parseAsOf(req.query);
      if (!asOf.ok) return reply.code(400).send(invalidRequest(asOf.errors));
      const { task, events, request } = await load(req.params.id, req);
      const target = request ? { request: requestView(request) } : {};
      if (asOf.value === null) return { ...taskView(task), ...target };
      const until = asOf.value;
      const then = events.filter((e) => e.at <= until);
      if (then.length === 0)
        throw new DomainError('NotFound', `task ${req.params.id} did not exist at ${req.query.as_of}`);
      return { ...taskView(fold(task.id, then)), ...target };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/history',
    {
      config: { action: 'readTask' },
      schema: { params: TaskParams, response: { 200: HistoryReply, 404: ErrorReply } },
    },
    async (req) => {
      const { events } = await load(req.params.id, req);
      return { task_id: req.params.id, events: events.map(eventView) };
    },
  );

  /** Cancels a task that has not started its delivery; retried once if the task moved meanwhile. */
  app.delete<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    {
      config: { action: 'cancelTask' },
      schema: { params: TaskParams, response: { 200: TaskReply, 404: ErrorReply, 409: ErrorReply } },
    },
    async (req) => {
      for (let tries = 0; tries < 3; tries++) {
        const { task } = await load(req.params.id, req);
        const at = now();
        const events = record(task.id, task.version, at, decide({ type: 'CancelTask', data: { by: 'api' } }, task, at));
        const [result] = await store.commit([commitFor(task, events)]);
        if (result?.kind === 'ok') return taskView(events.reduce(evolve, task));
      }
      throw new DomainError('VersionConflict', 'the task kept changing; try again');
    },
  );
};
