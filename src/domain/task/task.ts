/** Statuses as the API shows them; `new` only exists before the first event. */
export const TaskStatus = {
  scheduled: 'scheduled',
  pending: 'pending',
  active: 'active',
  retrying: 'retrying',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type TaskStatus = keyof typeof TaskStatus;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** The target request, stored once per task; events refer to the task instead of copying it. */
export type HttpRequestSpec = Readonly<{
  url: string;
  method: HttpMethod;
  headers: Readonly<Record<string, string>>;
  body: string;
}>;

export type AttemptResponse = Readonly<{
  status: number | null;
  latencyMs: number;
  error: string | null;
  /** Retrying cannot help (the SSRF guard blocked the destination): the task fails at once with `error`. */
  permanent?: true;
  /** The wait a 429 or 503 asked for (Retry-After); the next attempt comes no earlier, within max backoff. */
  retryAfterMs?: number;
}>;

export type Task = Readonly<{
  id: string;
  status: TaskStatus | 'new';
  version: number;
  queue: string;
  clientId: string;
  /** When the task is (or was) due for its first attempt, ms since epoch. */
  scheduleTime: number;
  createdAt: number;
  updatedAt: number;
  /** Dispatches started (leases); a lease that expired counts, as its outcome is unknown. */
  attempts: number;
  /** Responses other than 5xx, as Cloud Tasks counts executions. */
  executions: number;
  /** Next release time while scheduled or retrying. */
  dueAt: number | null;
  /** The lease holder while active. */
  workerId: string | null;
  lastResponse: AttemptResponse | null;
  failureReason: string | null;
}>;

export const TERMINAL_STATUSES: ReadonlySet<Task['status']> = new Set(['succeeded', 'failed', 'cancelled']);

export const initialTask = (id: string): Task => ({
  id,
  status: 'new',
  version: 0,
  queue: '',
  clientId: '',
  scheduleTime: 0,
  createdAt: 0,
  updatedAt: 0,
  attempts: 0,
  executions: 0,
  dueAt: null,
  workerId: null,
  lastResponse: null,
  failureReason: null,
});
