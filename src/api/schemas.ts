import { Type } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorReply = Type.Object({
  error: Type.String(),
  message: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), expected: Type.String() }))),
});

export const EnqueueReply = Type.Object({
  status: Type.Literal('enqueued'),
  task_id: Type.String(),
  queue: Type.String(),
  client_id: Type.String(),
});

/** One result per batch item: the fields of EnqueueReply when enqueued, of ErrorReply when rejected. */
export const EnqueueBatchReply = Type.Object({
  results: Type.Array(
    Type.Object({
      status: Type.Union([Type.Literal('enqueued'), Type.Literal('rejected')]),
      task_id: Type.Optional(Type.String()),
      queue: Type.Optional(Type.String()),
      client_id: Type.Optional(Type.String()),
      error: Type.Optional(Type.String()),
      message: Type.Optional(Type.String()),
      errors: ErrorReply.properties.errors,
    }),
  ),
});

export const TaskParams = Type.Object({ id: Type.String() });

export const TaskReply = Type.Object({
  task_id: Type.String(),
  status: Type.String(),
  queue: Type.String(),
  client_id: Type.String(),
  attempts: Type.Integer(),
  schedule_time: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  last_response: Nullable(
    Type.Object({
      status: Nullable(Type.Integer()),
      latency_ms: Type.Number(),
      error: Nullable(Type.String()),
    }),
  ),
  /** Only on GET /v1/tasks/:id: the target without its body, secret header values masked (api/views.ts). */
  request: Type.Optional(
    Type.Object({ url: Type.String(), method: Type.String(), headers: Type.Record(Type.String(), Type.String()) }),
  ),
});

export const HistoryReply = Type.Object({
  task_id: Type.String(),
  events: Type.Array(
    Type.Object({
      type: Type.String(),
      at: Type.String(),
      version: Type.Integer(),
      data: Type.Object({}, { additionalProperties: true }),
    }),
  ),
});
