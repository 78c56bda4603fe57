import { evolve } from '../domain/task/evolve.ts';
import { initialTask, type Task, type TaskStatus, TERMINAL_STATUSES } from '../domain/task/task.ts';
import { batchStart, type LedgerEvent, type PlanContext, type Projection, type Write } from './projection.ts';

/** Where the index files a task: the lists of its status in its queue and for its client. */
export type Place = Readonly<{ status: TaskStatus; queue: string; clientId: string }>;

/**
 * The `tasks` projection: task ids listed by queue and status and by client and status (sorted sets whose
 * members all score 0, so they order by id; ids are UUIDv7, so that is by enqueue time), the queues and
 * clients seen, and finished tasks by finish time (what retention reads). A live task's place is kept in
 * `rec`; a finished one's is dropped to save memory, as only its expunged event, which carries it, can move it.
 */
export const TASKS_PROJECTION = 'tasks';

export const taskIndexKeys = (key: PlanContext['key']) => ({
  rec: key('rec'),
  byQueue: (queue: string, status: string) => key(`q:${queue}:${status}`),
  byClient: (clientId: string, status: string) => key(`c:${clientId}:${status}`),
  queues: key('queues'),
  clients: key('clients'),
  finished: key('finished'),
});

const isTerminal = (s: TaskStatus) => TERMINAL_STATUSES.has(s);
const statusAfter = (status: TaskStatus, event: LedgerEvent): TaskStatus => {
  const next = evolve({ ...initialTask(event.taskId), status } as Task, event).status;
  return next === 'new' ? status : next;
};
const encodePlace = (p: Place) => JSON.stringify([p.status, p.queue, p.clientId]);
export const decodePlace = (raw: string): Place => {
  const [status, queue, clientId] = JSON.parse(raw) as [TaskStatus, string, string];
  return { status, queue, clientId };
};

type Progress = { before: Place | null; hadRecord: boolean; now: Place | null; finishedAt: number; known: boolean };

export const taskIndex: Projection = {
  name: TASKS_PROJECTION,
  seed: (taskIds, ctx) => seed(taskIds, ctx),
  async plan(events, ctx) {
    const k = taskIndexKeys(ctx.key);
    const progress = await startingPlaces(events, ctx, k.rec);
    const queues = new Set<string>();
    const clients = new Set<string>();
    for (const e of events) {
      const p = progress.get(e.taskId) as Progress;
      if (e.type === 'enqueued') {
        p.now = { status: 'pending', queue: e.data.queue, clientId: e.data.clientId };
        // on every enqueue, not only for a task still listed when the batch ends: a batch that holds a task's
        // whole life, up to its expunge, still names its queue and client
        queues.add(e.data.queue);
        clients.add(e.data.clientId);
        p.known = true;
      } else if (e.type === 'expunged') {
        if (!p.known) p.before = { status: e.data.status, queue: e.data.queue, clientId: e.data.clientId };
        p.now = null;
        p.known = true;
      } else if (p.now !== null) {
        const status = statusAfter(p.now.status, e);
        if (isTerminal(status) && !isTerminal(p.now.status)) p.finishedAt = e.at;
        p.now = { ...p.now, status };
      }
    }
    const writes: Write[] = [];
    for (const [taskId, p] of progress) {
      writes.push(...moves(taskId, p, k));
    }
    for (const queue of queues) writes.push(['SADD', k.queues, queue]);
    for (const clientId of clients) writes.push(['SADD', k.clients, clientId]);
    return writes;
  },
};

/**
 * Stored tasks that are neither in `rec` (unfinished) nor in `finished` are placed by planning their whole stored
 * history as if it were a batch. Events of theirs still to come from the ledger then move them as usual: a task's
 * status after an event does not depend on where the seed put it.
 */
const seed: NonNullable<Projection['seed']> = async (taskIds, ctx) => {
  const k = taskIndexKeys(ctx.key);
  const pipeline = ctx.redis.multi();
  pipeline.hmget(k.rec, ...taskIds);
  for (const id of taskIds) pipeline.zscore(k.finished, id);
  const [first, ...scores] = ((await pipeline.exec()) ?? []) as [unknown, unknown][];
  const records = (first?.[1] ?? []) as (string | null)[];
  const unplaced = taskIds.filter((_, i) => !records[i] && scores[i]?.[1] === null);
  if (unplaced.length === 0) return [];
  const histories = await ctx.loadHistory(unplaced);
  const events = unplaced.flatMap((id) => (histories.get(id) ?? []).map((e) => ({ ...e, ledgerId: '' })));
  return events.length === 0 ? [] : taskIndex.plan(events, ctx);
};

/** Each task's place before this batch: its record, else (earlier events trimmed) a fold of its stored history. */
const startingPlaces = async (events: readonly LedgerEvent[], ctx: PlanContext, recKey: string) => {
  const start = await batchStart(events, ctx, recKey);
  const progress = new Map<string, Progress>();
  for (const id of start.taskIds) {
    const raw = start.record(id);
    let place = raw ? decodePlace(raw) : null;
    const earlier = start.earlier(id);
    if (earlier && earlier.length > 0) {
      const task = earlier.reduce(evolve, initialTask(id));
      if (task.status !== 'new') place = { status: task.status, queue: task.queue, clientId: task.clientId };
    }
    progress.set(id, { before: place, hadRecord: raw !== null, now: place, finishedAt: 0, known: place !== null });
  }
  return progress;
};

/** The net change of one task over the batch: out of the lists it was in, into the ones it is in now. */
const moves = (taskId: string, p: Progress, k: ReturnType<typeof taskIndexKeys>): Write[] => {
  const { before, now } = p;
  const writes: Write[] = [];
  const same = before && now && before.status === now.status && before.queue === now.queue;
  if (before && !same) {
    writes.push(['ZREM', k.byQueue(before.queue, before.status), taskId]);
    writes.push(['ZREM', k.byClient(before.clientId, before.status), taskId]);
    if (isTerminal(before.status)) writes.push(['ZREM', k.finished, taskId]);
  }
  if (now && !same) {
    writes.push(['ZADD', k.byQueue(now.queue, now.status), 0, taskId]);
    writes.push(['ZADD', k.byClient(now.clientId, now.status), 0, taskId]);
    if (isTerminal(now.status)) writes.push(['ZADD', k.finished, p.finishedAt, taskId]);
  }
  if (now && !isTerminal(now.status)) {
    if (!same || !p.hadRecord) writes.push(['HSET', k.rec, taskId, encodePlace(now)]);
  } else if (p.hadRecord) {
    writes.push(['HDEL', k.rec, taskId]);
  }
  return writes;
};
