import { EVENT_SCHEMA_VERSION, type Recorded, type TaskEvent } from '../../domain/task/events.ts';
import type { HttpRequestSpec } from '../../domain/task/task.ts';

/**
 * Events are stored as one compact JSON line each, in the task's history and in the ledger stream:
 * {"t":type,"v":version,"at":ms,"s":schema,"d":data}. The task id is the key (history) or a field (ledger).
 */
type Line = { t: TaskEvent['type']; v: number; at: number; s: number; d: unknown };

export const encodeEvent = (e: Recorded): string =>
  JSON.stringify({ t: e.type, v: e.version, at: e.at, s: e.schema, d: e.data } satisfies Line);

export const decodeEvent = (taskId: string, line: string): Recorded => {
  const raw = JSON.parse(line) as Line;
  return upcast({ type: raw.t, data: raw.d, taskId, version: raw.v, at: raw.at, schema: raw.s } as Recorded);
};

export const decodeHistory = (taskId: string, history: string): Recorded[] =>
  history === '' ? [] : history.split('\n').map((line) => decodeEvent(taskId, line));

/** Brings older event shapes up to the current schema; schema 1 is the only one so far. */
export const upcast = (e: Recorded): Recorded => {
  if (e.schema > EVENT_SCHEMA_VERSION) throw new Error(`event schema ${e.schema} is newer than this build`);
  return e;
};

export const encodeRequest = (r: HttpRequestSpec): string => JSON.stringify(r);
export const decodeRequest = (raw: string): HttpRequestSpec | null =>
  raw === '' ? null : (JSON.parse(raw) as HttpRequestSpec);
