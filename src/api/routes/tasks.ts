import type { FastifyPluginAsync } from 'fastify';
import { CommitBatcher } from '../../adapters/redis/commit-batcher.ts';
import { commitFor } from '../../adapters/redis/placement.ts';
import type { RedisTaskStore } from '../../adapters/redis/task-store.ts';
import { decide } from '../../domain/task/decide.ts';
import { DomainError } from '../../domain/task/errors.ts';
import { record } from '../../domain/task/events.ts';
import { evolve } from '../../domain/task/evolve.ts';
import { initialTask } from '../../domain/task/task.ts';
import { validateEnqueue } from '../../domain/task/validate.ts';
import { invalidRequest } from '../errors.ts';
import { EnqueueReply, ErrorReply, HistoryReply, TaskParams, TaskReply } from '../schemas.ts';
import { isTaskId, newTaskId } from '../task-id.ts';
import { eventView, taskView } from '../views.ts';

export type TaskRoutesOptions = Readonly<{
  store: RedisTaskStore;
  queueNames: readonly string[];
  now: () => number;
}>;

export const taskRoutes: FastifyPluginAsync<TaskRoutesOptions> = async (app, { store, queueNames, now }) => {
  const enqueues = new CommitBatcher(store, '');
  const notFound = (id: string) => new DomainError('NotFound', `no task ${id}`);
  const load = async (id: string) => {
    const snap = isTaskId(id) ? await store.load(id) : null;
    if (!snap) throw notFound(id);
    return snap;
  };

  app.post(
    '/v1/enqueue',
    { schema: { response: { 200: EnqueueReply, 400: ErrorReply, 413: ErrorReply, 503: ErrorReply } } },
    async (req, reply) => {
      const input = validateEnqueue(req.body, queueNames);
      if (!input.ok) return reply.code(input.tooLarge ? 413 : 400).send(invalidRequest(input.errors));
      const { clientId, queue, delaySec, request } = input.value;
      const at = now();
      const task = initialTask(newTaskId(at));
      const events = decide({ type: 'EnqueueTask', data: { queue, clientId, delayMs: delaySec * 1000 } }, task, at);
      const result = await enqueues.commit(commitFor(task, record(task.id, 0, at, events), { request }));
      if (result.kind !== 'ok') throw new DomainError('AlreadyExists', `task ${task.id} already exists`);
      return { status: 'enqueued' as const, task_id: task.id, queue, client_id: clientId };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    { schema: { params: TaskParams, response: { 200: TaskReply, 404: ErrorReply } } },
    async (req) => taskView((await load(req.params.id)).task),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/history',
    { schema: { params: TaskParams, response: { 200: HistoryReply, 404: ErrorReply } } },
    async (req) => {
      const { events } = await load(req.params.id);
      return { task_id: req.params.id, events: events.map(eventView) };
    },
  );

  /** Cancels a task that has not started its delivery; retried once if the task moved meanwhile. */
  app.delete<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    { schema: { params: TaskParams, response: { 200: TaskReply, 404: ErrorReply, 409: ErrorReply } } },
    async (req) => {
      for (let tries = 0; tries < 3; tries++) {
        const { task } = await load(req.params.id);
        const at = now();
        const events = record(task.id, task.version, at, decide({ type: 'CancelTask', data: { by: 'api' } }, task, at));
        const [result] = await store.commit([commitFor(task, events)]);
        if (result?.kind === 'ok') return taskView(events.reduce(evolve, task));
      }
      throw new DomainError('VersionConflict', 'the task kept changing; try again');
    },
  );
};
