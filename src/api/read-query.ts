import { TaskStatus } from '../domain/task/task.ts';
import type { FieldError, Validation } from '../domain/task/validate.ts';
import { parseRfc3339 } from '../domain/time/rfc3339.ts';
import type { TaskListQuery } from '../projections/read-models.ts';
import { isTaskId } from './task-id.ts';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 50;

type Query = Record<string, unknown>;

const unknownFields = (query: Query, known: readonly string[]): FieldError[] =>
  Object.keys(query)
    .filter((k) => !known.includes(k))
    .map((k) => ({ field: k, expected: `no such parameter; expected one of ${known.join(', ')}` }));

/** An RFC 3339 instant as ms since epoch, or an error naming the field. */
export const parseInstant = (field: string, value: unknown): Validation<number> => {
  const ms = typeof value === 'string' ? (parseRfc3339(value) ?? Number.NaN) : Number.NaN;
  return Number.isFinite(ms)
    ? { ok: true, value: ms }
    : { ok: false, errors: [{ field, expected: 'an RFC 3339 time such as 2026-11-27T10:00:00Z' }], tooLarge: false };
};

export const parseAsOf = (query: Query): Validation<number | null> => {
  const errors = unknownFields(query, ['as_of']);
  if (errors.length > 0) return { ok: false, errors, tooLarge: false };
  return query.as_of === undefined ? { ok: true, value: null } : parseInstant('as_of', query.as_of);
};

/** `GET /v1/tasks` parameters: queue, status, client_id, limit (1..1000, default 50), cursor (a task id). */
export const parseListQuery = (query: Query): Validation<TaskListQuery> => {
  const errors = unknownFields(query, ['queue', 'status', 'client_id', 'limit', 'cursor']);
  const { queue, status, client_id: clientId, limit, cursor } = query;
  if (queue !== undefined && (typeof queue !== 'string' || !NAME.test(queue))) {
    errors.push({ field: 'queue', expected: 'a queue name (1-64 characters from A-Z, a-z, 0-9, _ and -)' });
  }
  if (status !== undefined && (typeof status !== 'string' || !Object.hasOwn(TaskStatus, status))) {
    errors.push({ field: 'status', expected: `one of ${Object.keys(TaskStatus).join(', ')}` });
  }
  if (clientId !== undefined && (typeof clientId !== 'string' || !NAME.test(clientId))) {
    errors.push({ field: 'client_id', expected: 'a client id (1-64 characters from A-Z, a-z, 0-9, _ and -)' });
  }
  const n = limit === undefined ? DEFAULT_PAGE : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE || (typeof limit === 'string' && !/^\d+$/.test(limit))) {
    errors.push({ field: 'limit', expected: `a whole number from 1 to ${MAX_PAGE}` });
  }
  if (cursor !== undefined && (typeof cursor !== 'string' || !isTaskId(cursor))) {
    errors.push({ field: 'cursor', expected: 'the next_cursor of a previous page' });
  }
  if (errors.length > 0) return { ok: false, errors, tooLarge: false };
  return {
    ok: true,
    value: {
      limit: n,
      ...(queue === undefined ? {} : { queue: queue as string }),
      ...(status === undefined ? {} : { status: status as TaskStatus }),
      ...(clientId === undefined ? {} : { clientId: clientId as string }),
      ...(cursor === undefined ? {} : { cursor: cursor as string }),
    },
  };
};

export const parseDays = (query: Query): Validation<number> => {
  const errors = unknownFields(query, ['days']);
  const days = query.days === undefined ? 7 : Number(query.days);
  if (!Number.isInteger(days) || days < 1 || days > 90)
    errors.push({ field: 'days', expected: 'a whole number from 1 to 90' });
  return errors.length > 0 ? { ok: false, errors, tooLarge: false } : { ok: true, value: days };
};
