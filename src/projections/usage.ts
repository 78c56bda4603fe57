import { latencyBucket } from './latency.ts';
import { batchStart, type LedgerEvent, type PlanContext, type Projection, utcDay, type Write } from './projection.ts';

/**
 * The `usage` projection: per queue and per client, per UTC day, how many tasks were enqueued, attempted,
 * succeeded, failed and deferred (turned away by a circuit breaker), and a histogram of attempt latencies
 * (`l<bucket>` fields, see latency.ts). A live task's queue and client are kept in `rec` (a finished task's are
 * dropped: no more counts can come for it).
 */
export const USAGE_PROJECTION = 'usage';

export const USAGE_COUNTS = ['enqueued', 'attempts', 'succeeded', 'failed', 'deferred'] as const;
export type UsageCount = (typeof USAGE_COUNTS)[number];

export const usageKeys = (key: PlanContext['key']) => ({
  rec: key('rec'),
  queueDay: (queue: string, day: string) => key(`d:q:${queue}:${day}`),
  clientDay: (clientId: string, day: string) => key(`d:c:${clientId}:${day}`),
});

type Owner = { queue: string; clientId: string } | null;

const counted = (e: LedgerEvent): [string, number][] => {
  switch (e.type) {
    case 'enqueued':
      return [['enqueued', 1]];
    case 'attempted':
      return [
        ['attempts', 1],
        [`l${latencyBucket(e.data.latencyMs)}`, 1],
      ];
    case 'succeeded':
      return [['succeeded', 1]];
    case 'failed':
      return [['failed', 1]];
    case 'deferred':
      return [['deferred', 1]];
    default:
      return [];
  }
};

export const usage: Projection = {
  name: USAGE_PROJECTION,
  async plan(events, ctx) {
    const k = usageKeys(ctx.key);
    const { owners, hadRecord } = await startingOwners(events, ctx, k.rec);
    const sums = new Map<string, Map<string, number>>();
    const add = (key: string, field: string, n: number) => {
      const fields = sums.get(key) ?? new Map<string, number>();
      fields.set(field, (fields.get(field) ?? 0) + n);
      sums.set(key, fields);
    };
    const finished = new Set<string>();
    for (const e of events) {
      if (e.type === 'enqueued') owners.set(e.taskId, { queue: e.data.queue, clientId: e.data.clientId });
      const owner = owners.get(e.taskId);
      if (!owner) continue;
      const day = utcDay(e.at);
      for (const [field, n] of counted(e)) {
        add(k.queueDay(owner.queue, day), field, n);
        add(k.clientDay(owner.clientId, day), field, n);
      }
      if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled' || e.type === 'expunged') {
        finished.add(e.taskId);
      }
    }
    const writes: Write[] = [];
    for (const [key, fields] of sums) for (const [field, n] of fields) writes.push(['HINCRBY', key, field, n]);
    for (const [id, owner] of owners) {
      if (finished.has(id)) {
        if (hadRecord.has(id)) writes.push(['HDEL', k.rec, id]);
      } else if (owner && !hadRecord.has(id)) {
        writes.push(['HSET', k.rec, id, JSON.stringify([owner.queue, owner.clientId])]);
      }
    }
    return writes;
  },
};

/** Each task's queue and client: its record, else (earlier events trimmed) its stored `enqueued` event. */
const startingOwners = async (events: readonly LedgerEvent[], ctx: PlanContext, recKey: string) => {
  const start = await batchStart(events, ctx, recKey);
  const owners = new Map<string, Owner>();
  // a task found through its stored history has no record yet: the batch writes one
  const hadRecord = new Set<string>();
  for (const id of start.taskIds) {
    const raw = start.record(id);
    const enqueued = start.earlier(id)?.find((e) => e.type === 'enqueued');
    if (raw) {
      const [queue, clientId] = JSON.parse(raw) as [string, string];
      owners.set(id, { queue, clientId });
      hadRecord.add(id);
    } else if (enqueued?.type === 'enqueued') {
      owners.set(id, { queue: enqueued.data.queue, clientId: enqueued.data.clientId });
    } else {
      owners.set(id, null);
    }
  }
  return { owners, hadRecord };
};
