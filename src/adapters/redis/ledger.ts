import type { Redis } from 'ioredis';
import type { Recorded } from '../../domain/task/events.ts';
import { decodeEvent } from './codec.ts';
import type { Keys } from './keys.ts';

/** An event as the ledger holds it: with the stream id that orders it among all events of the partition. */
export type LedgerEvent = Recorded & Readonly<{ ledgerId: string }>;

/** Parses a raw ledger stream entry (fields `id` = task id, `e` = the event line). */
export const ledgerEvent = (ledgerId: string, fields: string[]): LedgerEvent => {
  let taskId = '';
  let line = '';
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'id') taskId = fields[i + 1] as string;
    else if (fields[i] === 'e') line = fields[i + 1] as string;
  }
  return { ...decodeEvent(taskId, line), ledgerId };
};

/** Stream ids compare as (ms, seq) pairs; '' is before everything. */
export const compareLedgerIds = (a: string, b: string): number => {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  // ms parts of equal length compare as strings (no leading zeros), which saves parsing on the projector's hot path
  if (ad === bd && ad > 0) {
    const am = a.slice(0, ad);
    const bm = b.slice(0, bd);
    if (am !== bm) return am < bm ? -1 : 1;
    return Number(a.slice(ad + 1)) - Number(b.slice(bd + 1));
  }
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const byMs = Number(am) - Number(bm);
  return byMs !== 0 ? byMs : Number(as) - Number(bs);
};

const DAY_MS = 86_400_000;
let cachedDay = { start: 0, end: 0, name: '' };

/** The UTC day of a time, as per-day read models name it. */
export const utcDay = (ms: number): string => {
  if (ms >= cachedDay.start && ms < cachedDay.end) return cachedDay.name;
  const start = Math.floor(ms / DAY_MS) * DAY_MS;
  cachedDay = { start, end: start + DAY_MS, name: new Date(start).toISOString().slice(0, 10) };
  return cachedDay.name;
};

type RawEntry = [string, string[]];

/**
 * The ledger's entries from `start` up to `before` (exclusive; '+' = to the end), oldest first, one page at a time.
 * `start` is as XRANGE takes it: '-' (the first entry), an id (inclusive) or '(id' (exclusive). A time in ms is the
 * id `<ms>-0`.
 */
export async function* readLedger(
  redis: Redis,
  keys: Keys,
  range: Readonly<{ start: string; before: string }>,
  pageSize = 1000,
): AsyncGenerator<LedgerEvent[]> {
  let start = range.start;
  const end = range.before === '+' ? '+' : `(${range.before}`;
  for (;;) {
    const page = (await redis.xrange(keys.events, start, end, 'COUNT', pageSize)) as RawEntry[];
    if (page.length === 0) return;
    yield page.map(([id, fields]) => ledgerEvent(id, fields));
    if (page.length < pageSize) return;
    start = `(${(page.at(-1) as RawEntry)[0]}`;
  }
}

export type LedgerStart = Readonly<{
  /** The oldest entry still in Redis (null: the stream is empty or missing). */
  firstId: string | null;
  /** The newest id ever added, even if it has been trimmed since. */
  lastAddedId: string | null;
  /** Whether entries were ever removed (trimmed) from the start of the ledger. */
  trimmed: boolean;
}>;

/**
 * Where the ledger in Redis starts. Trimming is detected by `entries-added` exceeding `length` (nothing else
 * deletes ledger entries): on Redis 7.0, XTRIM leaves `max-deleted-entry-id` at 0-0, so that field cannot tell.
 */
export const ledgerStart = async (redis: Redis, keys: Keys): Promise<LedgerStart> => {
  let info: unknown[];
  try {
    info = (await redis.xinfo('STREAM', keys.events)) as unknown[];
  } catch (err) {
    if (String(err).includes('no such key')) return { firstId: null, lastAddedId: null, trimmed: false };
    throw err;
  }
  const field = (name: string) => info[info.indexOf(name) + 1];
  const first = field('first-entry') as RawEntry | null;
  return {
    firstId: first ? first[0] : null,
    lastAddedId: String(field('last-generated-id')),
    trimmed: Number(field('entries-added')) > Number(field('length')),
  };
};

/** The time part of a stream id, in ms. */
export const ledgerIdTime = (id: string): number => Number(id.split('-')[0]);
