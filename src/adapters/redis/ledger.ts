import type { Redis } from 'ioredis';
import type { LedgerEvent } from '../../projections/projection.ts';
import { ledgerEvent } from '../../projections/projector.ts';
import type { Keys } from './keys.ts';

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
