import { expect, test } from 'vitest';
import { compareLedgerIds, utcDay } from '../../../src/adapters/redis/ledger.ts';

/** The plain definitions the fast paths must agree with. */
const byParts = (a: string, b: string) => {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
};

test('compareLedgerIds orders ids as (ms, seq) pairs, whatever the lengths of their parts', () => {
  const ids = ['', '0-0', '0-1', '9-0', '10-0', '99-12', '100-2', '1795839694787-0', '1795839694787-9'];
  ids.push('1795839694787-10', '1795839694788-0', '999999999999-5', '10000000000000-0');
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 300; i++) ids.push(`${1_795_839_690_000 + (random() % 10_000)}-${random() % 12}`);
  for (const a of ids) {
    for (const b of ids) expect(Math.sign(compareLedgerIds(a, b)), `${a} vs ${b}`).toBe(byParts(a, b));
  }
});

test('utcDay names the UTC day of a time, across day boundaries and back again', () => {
  const midnight = Date.UTC(2026, 10, 28);
  const times = [midnight - 1, midnight, midnight + 1, midnight + 86_399_999, midnight + 86_400_000, midnight - 1, 0];
  for (const t of times) expect(utcDay(t), String(t)).toBe(new Date(t).toISOString().slice(0, 10));
});
