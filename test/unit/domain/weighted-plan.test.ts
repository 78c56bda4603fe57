import { describe, expect, test } from 'vitest';
import {
  type LeasePlanItem,
  leasePlan,
  type Weighted,
  weightedOrder,
} from '../../../src/domain/priority/weighted-plan.ts';
import { mulberry32 } from '../../support/given.ts';

const SEED_QUEUES: Weighted[] = [
  { name: 'critical', weight: 6 },
  { name: 'default', weight: 3 },
  { name: 'low', weight: 1 },
];
const DRAWS = 20_000;

const quotasByName = (plan: readonly LeasePlanItem[]) => Object.fromEntries(plan.map((p) => [p.name, p.quota]));
const sum = (plan: readonly LeasePlanItem[]) => plan.reduce((n, p) => n + p.quota, 0);
const shares = (names: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / names.length]));
};

describe('leasePlan', () => {
  test('10 slots with weights 6/3/1 get quotas 6/3/1 whatever the order drawn', () => {
    for (let seed = 1; seed <= 50; seed++) {
      expect(quotasByName(leasePlan(10, SEED_QUEUES, mulberry32(seed)))).toStrictEqual({
        critical: 6,
        default: 3,
        low: 1,
      });
    }
  });

  test('the quotas always add up to the free slots', () => {
    const random = mulberry32(3);
    for (let round = 0; round < 500; round++) {
      const queues = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => ({
        name: `q${i}`,
        weight: 1 + Math.floor(random() * 10),
      }));
      const slots = Math.floor(random() * 40);
      expect(sum(leasePlan(slots, queues, random))).toBe(slots);
    }
  });

  test('each quota is the floor of its weighted share, plus at most one of the seats left over', () => {
    const random = mulberry32(5);
    for (let round = 0; round < 500; round++) {
      const queues = Array.from({ length: 2 + Math.floor(random() * 5) }, (_, i) => ({
        name: `q${i}`,
        weight: 1 + Math.floor(random() * 10),
      }));
      const total = queues.reduce((n, q) => n + q.weight, 0);
      const slots = 1 + Math.floor(random() * 30);
      const quotas = quotasByName(leasePlan(slots, queues, random));
      for (const q of queues) {
        const floor = Math.floor((slots * q.weight) / total);
        expect(quotas[q.name]).toBeGreaterThanOrEqual(floor);
        expect(quotas[q.name]).toBeLessThanOrEqual(floor + 1);
      }
    }
  });

  test('2 slots with weights 6/3/1: critical always gets one, the spare seat goes by weighted draw', () => {
    const random = mulberry32(9);
    const plans = Array.from({ length: DRAWS }, () => leasePlan(2, SEED_QUEUES, random));
    expect(plans.filter((plan) => sum(plan) !== 2)).toStrictEqual([]);
    expect(plans.filter((plan) => (quotasByName(plan).critical ?? 0) < 1)).toStrictEqual([]);
    const s = shares(plans.map((plan) => plan[0]?.name ?? ''));
    expect(s.critical).toBeGreaterThan(0.57);
    expect(s.critical).toBeLessThan(0.63);
    expect(s.default).toBeGreaterThan(0.27);
    expect(s.default).toBeLessThan(0.33);
    expect(s.low).toBeGreaterThan(0.08);
    expect(s.low).toBeLessThan(0.12);
  });

  test('with one free slot each queue gets it in proportion to its weight', () => {
    const random = mulberry32(42);
    const plans = Array.from({ length: DRAWS }, () => leasePlan(1, SEED_QUEUES, random));
    const seated = plans.map((plan) => plan.filter((p) => p.quota > 0));
    // the single seat goes to the queue drawn first, with a quota of exactly one
    expect(
      seated.filter((s, i) => s.length !== 1 || s[0]?.quota !== 1 || s[0]?.name !== plans[i]?.[0]?.name),
    ).toStrictEqual([]);
    const s = shares(seated.map((seat) => seat[0]?.name ?? ''));
    expect(s.critical).toBeGreaterThan(0.57);
    expect(s.critical).toBeLessThan(0.63);
    expect(s.default).toBeGreaterThan(0.27);
    expect(s.default).toBeLessThan(0.33);
    expect(s.low).toBeGreaterThan(0.08);
    expect(s.low).toBeLessThan(0.12);
  });

  test('a queue with weight 0 gets no quota and is left out of the plan', () => {
    const queues = [...SEED_QUEUES, { name: 'paused', weight: 0 }];
    for (let seed = 1; seed <= 20; seed++) {
      const plan = leasePlan(7, queues, mulberry32(seed));
      expect(plan.map((p) => p.name).sort()).toStrictEqual(['critical', 'default', 'low']);
      expect(sum(plan)).toBe(7);
    }
  });

  test('no free slots gives every queue a zero quota', () => {
    expect(leasePlan(0, SEED_QUEUES, mulberry32(1)).map((p) => p.quota)).toStrictEqual([0, 0, 0]);
  });

  test('no queue with a weight gives an empty plan', () => {
    expect(leasePlan(5, [{ name: 'paused', weight: 0 }], mulberry32(1))).toStrictEqual([]);
  });
});

describe('weightedOrder', () => {
  test('is a permutation of the queues with a weight', () => {
    const random = mulberry32(17);
    const queues = [...SEED_QUEUES, { name: 'bulk', weight: 2 }, { name: 'paused', weight: 0 }];
    for (let i = 0; i < 200; i++) {
      const order = weightedOrder(queues, random);
      expect(order).toHaveLength(4);
      expect(order.map((q) => q.name).sort()).toStrictEqual(['bulk', 'critical', 'default', 'low']);
    }
  });

  test('returns the queue objects it was given', () => {
    const order = weightedOrder(SEED_QUEUES, mulberry32(1));
    for (const q of order) expect(SEED_QUEUES).toContain(q);
  });

  test('the lowest draw always picks the first queue left, the highest the last', () => {
    expect(weightedOrder(SEED_QUEUES, () => 0).map((q) => q.name)).toStrictEqual(['critical', 'default', 'low']);
    expect(weightedOrder(SEED_QUEUES, () => 0.999_999_999).map((q) => q.name)).toStrictEqual([
      'low',
      'default',
      'critical',
    ]);
  });

  test('a draw splits the weight range: [0, 0.6) critical, [0.6, 0.9) default, [0.9, 1) low', () => {
    const first = (r: number) => weightedOrder(SEED_QUEUES, () => r)[0]?.name;
    expect([0.59, 0.6, 0.89, 0.9].map(first)).toStrictEqual(['critical', 'default', 'default', 'low']);
  });

  test('each queue comes first in proportion to its weight', () => {
    const random = mulberry32(2025);
    const firsts = Array.from({ length: DRAWS }, () => weightedOrder(SEED_QUEUES, random)[0]?.name ?? '');
    const s = shares(firsts);
    expect(s.critical).toBeGreaterThan(0.57);
    expect(s.critical).toBeLessThan(0.63);
    expect(s.default).toBeGreaterThan(0.27);
    expect(s.default).toBeLessThan(0.33);
    expect(s.low).toBeGreaterThan(0.08);
    expect(s.low).toBeLessThan(0.12);
  });

  test('does not change the list it was given', () => {
    const queues = [...SEED_QUEUES];
    weightedOrder(queues, mulberry32(4));
    expect(queues).toStrictEqual(SEED_QUEUES);
  });
});
