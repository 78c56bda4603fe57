import type { Recorded } from '../domain/task/events.ts';
import { maskHeaders } from '../domain/task/secrets.ts';
import type { HttpRequestSpec, Task } from '../domain/task/task.ts';

/** The wire format keeps the seed's snake_case and RFC 3339 times; the conversion happens only here. */
const iso = (ms: number): string => new Date(ms).toISOString();
const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isTimeField = (key: string): boolean => key.endsWith('At') || key.endsWith('Time');

export const taskView = (task: Task) => ({
  task_id: task.id,
  status: task.status,
  queue: task.queue,
  client_id: task.clientId,
  attempts: task.attempts,
  schedule_time: iso(task.scheduleTime),
  created_at: iso(task.createdAt),
  updated_at: iso(task.updatedAt),
  last_response: task.lastResponse && {
    status: task.lastResponse.status,
    latency_ms: task.lastResponse.latencyMs,
    error: task.lastResponse.error,
  },
});

export const eventView = (e: Recorded) => ({
  type: e.type,
  at: iso(e.at),
  version: e.version,
  data: Object.fromEntries(
    Object.entries(e.data).map(([k, v]) => [snake(k), isTimeField(k) && typeof v === 'number' ? iso(v) : v]),
  ),
});

/**
 * The target request as a single task's view shows it, Cloud Tasks' BASIC view: no body (it can be large and
 * hold secrets no header name reveals), secret header values masked.
 */
export const requestView = (request: HttpRequestSpec) => ({
  url: request.url,
  method: request.method,
  headers: maskHeaders(request.headers),
});
