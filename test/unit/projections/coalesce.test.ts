import { describe, expect, test } from 'vitest';
import { type Command, coalesce, MAX_MEMBERS } from '../../../src/projections/coalesce.ts';
import type { Write } from '../../../src/projections/projection.ts';

/** A model of the keys the writes touch: applies commands as Redis would, one after another. */
type Model = Map<string, Map<string, string | number>>;
const run = (commands: readonly (readonly (string | number)[])[]): Model => {
  const db: Model = new Map();
  const at = (key: string) => db.get(key) ?? db.set(key, new Map()).get(key) ?? new Map();
  for (const [name, key, ...args] of commands) {
    const k = at(String(key));
    if (name === 'ZADD' || name === 'HSET') {
      for (let i = 0; i < args.length; i += 2) {
        const [a, b] = name === 'ZADD' ? [args[i + 1], args[i]] : [args[i], args[i + 1]];
        k.set(String(a), b as string | number);
      }
    } else if (name === 'ZREM' || name === 'HDEL') {
      for (const m of args) k.delete(String(m));
    } else if (name === 'SADD') {
      for (const m of args) k.set(String(m), 1);
    } else if (name === 'HINCRBY') {
      k.set(String(args[0]), Number(k.get(String(args[0])) ?? 0) + Number(args[1]));
    } else throw new Error(`unexpected ${name}`);
  }
  return db;
};

/** A seeded pseudo-random stream of writes over few keys and members, so that they collide often. */
const randomWrites = (seed: number, n: number): Write[] => {
  let x = seed;
  const next = (m: number) => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor(x / 65_536) % m;
  };
  const out: Write[] = [];
  for (let i = 0; i < n; i++) {
    const key = `k${next(3)}`;
    const member = `m${next(12)}`;
    switch (next(6)) {
      case 0:
        out.push(['ZADD', key, next(100), member]);
        break;
      case 1:
        out.push(['ZREM', key, member]);
        break;
      case 2:
        out.push(['HSET', key, member, `v${next(100)}`]);
        break;
      case 3:
        out.push(['HDEL', key, member]);
        break;
      case 4:
        out.push(['SADD', key, member]);
        break;
      default:
        out.push(['HINCRBY', key, member, next(5) + 1]);
    }
  }
  return out;
};

describe('coalesce', () => {
  test('writes of one kind on one key become one command, in the order of their first write', () => {
    const writes: Write[] = [
      ['ZREM', 'q:pending', 'a'],
      ['ZADD', 'q:succeeded', 0, 'a'],
      ['ZREM', 'q:pending', 'b'],
      ['ZADD', 'q:succeeded', 0, 'b'],
      ['HSET', 'rec', 'c', 'x'],
      ['HDEL', 'rec', 'a'],
      ['HDEL', 'rec', 'b'],
      ['HINCRBY', 'd', 'attempts', 1],
      ['HINCRBY', 'd', 'succeeded', 2],
      ['SADD', 'queues', 'default'],
    ];
    expect(coalesce(writes)).toEqual<Command[]>([
      ['ZREM', 'q:pending', 'a', 'b'],
      ['ZADD', 'q:succeeded', 0, 'a', 0, 'b'],
      ['HSET', 'rec', 'c', 'x'],
      ['HDEL', 'rec', 'a', 'b'],
      ['HINCRBY', 'd', 'attempts', 1],
      ['HINCRBY', 'd', 'succeeded', 2],
      ['SADD', 'queues', 'default'],
    ]);
  });

  test('a write on a member an earlier write touched starts a new command after it', () => {
    const writes: Write[] = [
      ['ZADD', 'z', 0, 'a'],
      ['ZREM', 'z', 'a'],
      ['ZADD', 'z', 5, 'a'],
    ];
    expect(coalesce(writes)).toEqual<Command[]>([
      ['ZADD', 'z', 0, 'a'],
      ['ZREM', 'z', 'a'],
      ['ZADD', 'z', 5, 'a'],
    ]);
    expect(run(coalesce(writes))).toEqual(run(writes));
  });

  test.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'random writes (seed %i): the same outcome as applying them one by one',
    (seed) => {
      const writes = randomWrites(seed, 300);
      const commands = coalesce(writes);
      expect(commands.length).toBeLessThan(writes.length); // it does merge
      expect(run(commands)).toEqual(run(writes));
    },
  );
});

test('a merged command holds at most MAX_MEMBERS members; the rest go in further commands, in order', () => {
  const writes: Write[] = Array.from({ length: 2 * MAX_MEMBERS + 5 }, (_, i) => ['ZADD', 'z', i, `m${i}`] as const);
  const commands = coalesce(writes);
  expect(commands.map((c) => c.length - 2)).toEqual([2 * MAX_MEMBERS, 2 * MAX_MEMBERS, 10]);
  expect(commands.flatMap((c) => c.slice(2))).toEqual(writes.flatMap((w) => w.slice(2)));
});
