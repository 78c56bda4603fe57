import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runScript, scripts } from '../../../src/adapters/redis/scripts/index.ts';
import { genMetaKey } from '../../../src/projections/generations.ts';
import type { Write } from '../../../src/projections/projection.ts';
import { sleepMs } from '../../support/commits.ts';
import { readKeys } from '../../support/read-model-oracle.ts';
import { testStore } from '../../support/store.ts';

/** projection-apply against a real redis-server: a ledger of five entries, and the generation's lock held by TOKEN. */
const NAME = 'tasks';
const GEN = 1;
const TOKEN = 'token-of-the-holder';
const IDS = ['1-1', '1-2', '1-3', '1-4', '1-5'];

let ctx: ReturnType<typeof testStore>;
let lockKey: string;
let meta: string;
let prefix: string;
const k = (suffix: string) => `${prefix}${suffix}`;

beforeEach(async () => {
  ctx = testStore();
  const { redis, keys } = ctx;
  lockKey = keys.projectionLock(NAME, GEN);
  meta = genMetaKey(keys, NAME, GEN);
  prefix = keys.projectionGen(NAME, GEN);
  for (const id of IDS) await redis.xadd(keys.events, id, 'id', `task-${id}`, 'e', '{}');
  await redis.set(lockKey, TOKEN, 'PX', 60_000);
});
afterEach(() => ctx.close());

type Batch = {
  token?: string;
  expected?: string;
  next: string;
  first: string;
  count: number;
  /** Ledger entries the batch read (default: from `first` to `next`). */
  read?: number;
  writes?: readonly (readonly (string | number)[])[];
};

const spanOf = (b: Batch) => (b.first === '' ? 0 : IDS.indexOf(b.next) - IDS.indexOf(b.first) + 1);

const apply = (b: Batch) => {
  const writes = (b.writes ?? []).flatMap((w) => [w.length, ...w]);
  return runScript(
    ctx.redis,
    scripts.projectionApply,
    [lockKey, meta, ctx.keys.events],
    [b.token ?? TOKEN, b.expected ?? '', b.next, b.first, b.count, b.read ?? spanOf(b), ...writes],
  );
};

/** Everything a batch can change: the generation's keys, meta included (and the ledger, which it never writes). */
const state = async () => ({
  keys: await readKeys(ctx.redis, prefix),
  ledger: (await ctx.redis.xrange(ctx.keys.events, '-', '+')).map(([id]) => id),
});

/** A batch of every kind of write, over keys that already hold something to remove. */
const EVERY_KIND = (): Write[] => [
  ['HSET', k('rec'), 'task-a', '["pending","default","client-1"]'],
  ['HDEL', k('rec'), 'task-old'],
  ['HINCRBY', k('d:q:default:2025-01-01'), 'enqueued', 3],
  ['HINCRBY', k('d:q:default:2025-01-01'), 'enqueued', 2],
  ['ZADD', k('q:default:pending'), 0, 'task-a'],
  ['ZREM', k('q:default:pending'), 'task-old'],
  ['SADD', k('queues'), 'default'],
];
const seedRemovable = async () => {
  await ctx.redis.hset(k('rec'), 'task-old', '["pending","default","client-1"]', 'task-kept', 'x');
  await ctx.redis.zadd(k('q:default:pending'), 0, 'task-old', 0, 'task-kept');
};

describe('projection-apply script', () => {
  test('OK: applies every kind of write, sets the checkpoint and counts the events and the entries read', async () => {
    await seedRemovable();

    expect(await apply({ next: '1-3', first: '1-1', count: 3, writes: EVERY_KIND() })).toBe('OK');

    expect(await state()).toEqual({
      keys: {
        rec: { 'task-a': '["pending","default","client-1"]', 'task-kept': 'x' },
        'd:q:default:2025-01-01': { enqueued: '5' },
        'q:default:pending': { 'task-a': 0, 'task-kept': 0 },
        queues: ['default'],
        meta: { checkpoint: '1-3', applied: '3', seq: '3' },
      },
      ledger: IDS,
    });
  });

  test('the next batch continues from the checkpoint: applied adds up; at the newest entry seq is entries-added', async () => {
    expect(await apply({ next: '1-3', first: '1-1', count: 3 })).toBe('OK');
    expect(
      await apply({
        expected: '1-3',
        next: '1-5',
        first: '1-4',
        count: 2,
        writes: [['HINCRBY', k('h'), 'n', 2]],
      }),
    ).toBe('OK');

    expect(await state()).toEqual({
      keys: { h: { n: '2' }, meta: { checkpoint: '1-5', applied: '5', seq: '5' } },
      ledger: IDS,
    });
  });

  test('seq: a first batch counts the entries trimmed before it; later batches count on; the newest entry resets it', async () => {
    await ctx.redis.xtrim(ctx.keys.events, 'MINID', '1-3'); // 1-1 and 1-2 gone before the generation's first batch
    expect(await apply({ next: '1-3', first: '1-3', count: 1 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-3', applied: '1', seq: '3' });
    expect(await apply({ expected: '1-3', next: '1-4', first: '1-4', count: 1 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-4', applied: '2', seq: '4' });
    await ctx.redis.xadd(ctx.keys.events, '1-6', 'id', 'task-1-6', 'e', '{}');
    await ctx.redis.xdel(ctx.keys.events, '1-6'); // entries-added is 6 now; the newest id is 1-6
    expect(await apply({ expected: '1-4', next: '1-5', first: '1-5', count: 1 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-5', applied: '3', seq: '5' });
    await ctx.redis.hset(meta, 'seq', '99'); // a wrong count is mended by the next batch that reaches the newest entry
    await ctx.redis.xadd(ctx.keys.events, '1-7', 'id', 'task-1-7', 'e', '{}');
    expect(await apply({ expected: '1-5', next: '1-7', first: '1-7', count: 1, read: 1 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-7', applied: '4', seq: '7' });
  });

  test('seq stays unset after a batch that did not come from the ledger (an archive replay)', async () => {
    expect(await apply({ next: '1-2', first: '', count: 2, read: 0 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-2', applied: '2' });
  });

  test('a generation without seq (made before it existed, or replayed) gets it from its next ledger batch', async () => {
    await ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1'); // no seq
    // the batch does not reach the newest entry: the entries after it (1-4, 1-5) are counted
    expect(await apply({ expected: '1-1', next: '1-3', first: '1-2', count: 2 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-3', applied: '3', seq: '3' });
  });

  test('a batch of events all at or before the checkpoint only skips: no contiguity check, applied unchanged', async () => {
    await ctx.redis.hset(meta, 'checkpoint', '1-3', 'applied', '3');

    expect(await apply({ expected: '1-3', next: '1-3', first: '', count: 0 })).toBe('OK');

    expect(await state()).toEqual({ keys: { meta: { checkpoint: '1-3', applied: '3' } }, ledger: IDS });
  });

  test('contiguity counts only entries still in the ledger: one deleted after the checkpoint is no gap', async () => {
    await ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1');
    await ctx.redis.xdel(ctx.keys.events, '1-2');

    expect(await apply({ expected: '1-1', next: '1-3', first: '1-3', count: 1, read: 1 })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-3', applied: '2', seq: '3' }); // 1-4, 1-5 after it
  });

  describe('refused batches write nothing', () => {
    const refused = async (setup: () => Promise<void>, batch: Batch, reply: string) => {
      await seedRemovable();
      await setup();
      const before = await state();
      expect(await apply(batch)).toBe(reply);
      expect(await state()).toEqual(before);
    };
    const full = { next: '1-3', first: '1-1', count: 3, writes: EVERY_KIND() };
    const noop = async () => {};

    test('LOCK_LOST: a token that is not the holder', () =>
      refused(noop, { ...full, token: 'token-of-someone-else' }, 'LOCK_LOST'));

    test('LOCK_LOST: the lock expired (nobody holds it)', () =>
      refused(
        async () => {
          await ctx.redis.pexpire(lockKey, 20);
          await sleepMs(60);
          expect(await ctx.redis.exists(lockKey)).toBe(0);
        },
        full,
        'LOCK_LOST',
      ));

    test('LOCK_LOST: the lock expired and another process took it', () =>
      refused(() => ctx.redis.set(lockKey, 'token-of-the-next-holder').then(() => {}), full, 'LOCK_LOST'));

    test('CHECKPOINT: planned from no checkpoint, but another batch has been applied since', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1').then(() => {}),
        { ...full, expected: '' },
        'CHECKPOINT:1-1',
      ));

    test('CHECKPOINT: planned from an older checkpoint (the same batch applied twice)', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-3', 'applied', '3').then(() => {}),
        { ...full, expected: '1-1', first: '1-2' },
        'CHECKPOINT:1-3',
      ));

    test('CHECKPOINT: planned from a checkpoint the generation never had', () =>
      refused(noop, { ...full, expected: '1-2', first: '1-3' }, 'CHECKPOINT:'));

    test('GAP: the batch skips the entry right after the checkpoint', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1').then(() => {}),
        { ...full, expected: '1-1', first: '1-3', next: '1-4' },
        'GAP:1-2',
      ));

    test('GAP: a first batch that does not start at the start of the ledger', () =>
      refused(noop, { ...full, first: '1-2' }, 'GAP:1-1'));

    test('GAP: a batch starting with an entry that is not in the ledger at all', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-5', 'applied', '5').then(() => {}),
        { ...full, expected: '1-5', first: '1-6', next: '1-6', read: 1 },
        'GAP:nil',
      ));
  });

  test.each(['DEL', 'SET', 'EXPIRE', 'FLUSHALL', 'XADD', 'hset', 'EVAL'])(
    'a %s among the writes is refused with an error, and nothing is written',
    async (command) => {
      const before = await state();
      await expect(
        apply({ next: '1-1', first: '1-1', count: 1, writes: [[command, k('x'), 'y', 'z']] }),
      ).rejects.toThrow(`command not allowed: ${command}`);
      expect(await state()).toEqual(before);
    },
  );

  test('a disallowed command after allowed writes leaves nothing of the batch either (all or nothing)', async () => {
    // Redis does not roll back a script's writes when it errors: were the HINCRBY before the DEL run, it would stay
    // without its checkpoint, and the next attempt at the batch would count it a second time
    const before = await state();
    await expect(
      apply({
        next: '1-1',
        first: '1-1',
        count: 1,
        writes: [
          ['HINCRBY', k('d:q:default:2025-01-01'), 'enqueued', 1],
          ['DEL', k('queues')],
        ],
      }),
    ).rejects.toThrow('command not allowed: DEL');
    expect(await state()).toEqual(before);
  });
});
