import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runScript, scripts } from '../../../src/adapters/redis/scripts/index.ts';
import { genMetaKey } from '../../../src/projections/generations.ts';
import type { Write } from '../../../src/projections/projection.ts';
import { sleepMs } from '../../support/commits.ts';
import { readKeys } from '../../support/read-model-oracle.ts';
import { testStore } from '../../support/store.ts';

/**
 * projection-apply against a real redis-server: a ledger of five entries, all delivered to the generation's group
 * (so all five are pending), and the generation's lock held by TOKEN.
 */
const NAME = 'tasks';
const GEN = 1;
const TOKEN = 'token-of-the-holder';
const IDS = ['1-1', '1-2', '1-3', '1-4', '1-5'];

let ctx: ReturnType<typeof testStore>;
let lockKey: string;
let meta: string;
let group: string;
let prefix: string;
const k = (suffix: string) => `${prefix}${suffix}`;

beforeEach(async () => {
  ctx = testStore();
  const { redis, keys } = ctx;
  lockKey = keys.projectionLock(NAME, GEN);
  meta = genMetaKey(keys, NAME, GEN);
  group = keys.projectionGroup(NAME, GEN);
  prefix = keys.projectionGen(NAME, GEN);
  for (const id of IDS) await redis.xadd(keys.events, id, 'id', `task-${id}`, 'e', '{}');
  await redis.xgroup('CREATE', keys.events, group, '0');
  await redis.xreadgroup('GROUP', group, 'projector', 'COUNT', 10, 'STREAMS', keys.events, '>');
  await redis.set(lockKey, TOKEN, 'PX', 60_000);
});
afterEach(() => ctx.close());

type Batch = {
  token?: string;
  expected?: string;
  next: string;
  first: string;
  count: number;
  acks?: readonly string[];
  writes?: readonly (readonly (string | number)[])[];
};

const apply = (b: Batch) => {
  const acks = b.acks ?? [];
  const writes = (b.writes ?? []).flatMap((w) => [w.length, ...w]);
  return runScript(
    ctx.redis,
    scripts.projectionApply,
    [lockKey, meta, ctx.keys.events],
    [b.token ?? TOKEN, group, b.expected ?? '', b.next, b.first, b.count, acks.length, ...acks, ...writes],
  );
};

const pendingIds = async () =>
  ((await ctx.redis.xpending(ctx.keys.events, group, '-', '+', 100)) as [string, ...unknown[]][]).map(([id]) => id);

/** Everything a batch can change: the generation's keys (meta included) and the group's pending entries. */
const state = async () => ({ keys: await readKeys(ctx.redis, prefix), pending: await pendingIds() });

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
  test('OK: applies every kind of write, sets the checkpoint, counts the events and acks the batch', async () => {
    await seedRemovable();

    expect(await apply({ next: '1-3', first: '1-1', count: 3, acks: IDS.slice(0, 3), writes: EVERY_KIND() })).toBe(
      'OK',
    );

    expect(await state()).toEqual({
      keys: {
        rec: { 'task-a': '["pending","default","client-1"]', 'task-kept': 'x' },
        'd:q:default:2025-01-01': { enqueued: '5' },
        'q:default:pending': { 'task-a': 0, 'task-kept': 0 },
        queues: ['default'],
        meta: { checkpoint: '1-3', applied: '3' },
      },
      pending: ['1-4', '1-5'],
    });
  });

  test('the next batch continues from the checkpoint: applied adds up and the rest is acked', async () => {
    expect(await apply({ next: '1-3', first: '1-1', count: 3, acks: IDS.slice(0, 3) })).toBe('OK');
    expect(
      await apply({
        expected: '1-3',
        next: '1-5',
        first: '1-4',
        count: 2,
        acks: IDS.slice(3),
        writes: [['HINCRBY', k('h'), 'n', 2]],
      }),
    ).toBe('OK');

    expect(await state()).toEqual({ keys: { h: { n: '2' }, meta: { checkpoint: '1-5', applied: '5' } }, pending: [] });
  });

  test('a batch of entries all at or before the checkpoint only acks: no contiguity check, applied unchanged', async () => {
    await ctx.redis.hset(meta, 'checkpoint', '1-3', 'applied', '3');

    expect(await apply({ expected: '1-3', next: '1-3', first: '', count: 0, acks: ['1-1', '1-2'] })).toBe('OK');

    expect(await state()).toEqual({
      keys: { meta: { checkpoint: '1-3', applied: '3' } },
      pending: ['1-3', '1-4', '1-5'],
    });
  });

  test('contiguity counts only entries still in the ledger: one deleted after the checkpoint is no gap', async () => {
    await ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1');
    await ctx.redis.xdel(ctx.keys.events, '1-2');

    expect(await apply({ expected: '1-1', next: '1-3', first: '1-3', count: 1, acks: ['1-2', '1-3'] })).toBe('OK');
    expect((await state()).keys.meta).toEqual({ checkpoint: '1-3', applied: '2' });
  });

  describe('refused batches write nothing and ack nothing', () => {
    const refused = async (setup: () => Promise<void>, batch: Batch, reply: string) => {
      await seedRemovable();
      await setup();
      const before = await state();
      expect(await apply(batch)).toBe(reply);
      expect(await state()).toEqual(before);
      expect(before.pending).toEqual(IDS);
    };
    const full = { next: '1-3', first: '1-1', count: 3, acks: IDS.slice(0, 3), writes: EVERY_KIND() };
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
        { ...full, expected: '1-1', first: '1-2', acks: ['1-2', '1-3'] },
        'CHECKPOINT:1-3',
      ));

    test('CHECKPOINT: planned from a checkpoint the generation never had', () =>
      refused(noop, { ...full, expected: '1-2', first: '1-3', acks: ['1-3'] }, 'CHECKPOINT:'));

    test('GAP: the batch skips the entry right after the checkpoint', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-1', 'applied', '1').then(() => {}),
        { ...full, expected: '1-1', first: '1-3', next: '1-4', acks: ['1-3', '1-4'] },
        'GAP:1-2',
      ));

    test('GAP: a first batch that does not start at the start of the ledger', () =>
      refused(noop, { ...full, first: '1-2', acks: ['1-2', '1-3'] }, 'GAP:1-1'));

    test('GAP: a batch starting with an entry that is not in the ledger at all', () =>
      refused(
        () => ctx.redis.hset(meta, 'checkpoint', '1-5', 'applied', '5').then(() => {}),
        { ...full, expected: '1-5', first: '1-6', next: '1-6', acks: [] },
        'GAP:nil',
      ));
  });

  test.each(['DEL', 'SET', 'EXPIRE', 'FLUSHALL', 'XADD', 'hset', 'EVAL'])(
    'a %s among the writes is refused with an error, and nothing is written',
    async (command) => {
      const before = await state();
      await expect(
        apply({ next: '1-1', first: '1-1', count: 1, acks: ['1-1'], writes: [[command, k('x'), 'y', 'z']] }),
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
        acks: ['1-1'],
        writes: [
          ['HINCRBY', k('d:q:default:2025-01-01'), 'enqueued', 1],
          ['DEL', k('queues')],
        ],
      }),
    ).rejects.toThrow('command not allowed: DEL');
    expect(await state()).toEqual(before);
  });
});
