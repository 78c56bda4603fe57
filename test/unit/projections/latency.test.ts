import { describe, expect, test } from 'vitest';
import { bucketUpperMs, latencyBucket, percentile } from '../../../src/projections/latency.ts';
import { mulberry32 } from '../../support/given.ts';

const HOUR_MS = 3_600_000;

describe('latencyBucket', () => {
  test('everything up to 1 ms, 0 included, is bucket 0', () => {
    for (const ms of [0, 0.001, 0.5, 0.999, 1]) expect(latencyBucket(ms)).toBe(0);
  });

  test('bucket b holds (1.25^(b-1), 1.25^b]: its upper bound is in it, just above its lower bound is too', () => {
    for (let b = 1; b <= 80; b++) {
      const upper = 1.25 ** b;
      const lower = 1.25 ** (b - 1);
      expect(latencyBucket(upper), `upper bound of ${b}`).toBe(b);
      expect(latencyBucket(upper * (1 - 1e-6)), `just below the upper bound of ${b}`).toBe(b);
      expect(latencyBucket(lower * (1 + 1e-6)), `just above the lower bound of ${b}`).toBe(b);
      expect(latencyBucket(upper * (1 + 1e-6)), `just above the upper bound of ${b}`).toBe(b + 1);
    }
  });

  test('a latency equal to a bound up to floating-point error is in the bucket that bound closes', () => {
    for (let b = 1; b <= 80; b++) {
      const written = Number((1.25 ** b).toPrecision(12)); // as a bound read back from 12 significant digits
      expect(latencyBucket(written), `1.25^${b} ≈ ${written}`).toBe(b);
    }
  });

  test('the first buckets, by hand', () => {
    // 1.25, 1.5625, 1.953, 2.441, 3.05, 3.81, 4.77, 5.96 ...
    expect([1.1, 1.25, 1.3, 1.5625, 1.6, 2, 3, 5, 6].map(latencyBucket)).toEqual([1, 1, 2, 2, 3, 4, 5, 8, 9]);
  });

  test('buckets never decrease as latency grows, and an hour fits in 70 buckets', () => {
    let previous = 0;
    for (let ms = 0; ms <= HOUR_MS; ms += ms < 10_000 ? 1 : 997) {
      const b = latencyBucket(ms);
      expect(b).toBeGreaterThanOrEqual(previous);
      previous = b;
    }
    expect(latencyBucket(HOUR_MS)).toBeLessThanOrEqual(70);
    expect(latencyBucket(1000)).toBe(31);
  });

  test('a whole-millisecond latency is never above its bucket upper bound nor 25 % below it (up to rounding)', () => {
    for (let ms = 1; ms <= HOUR_MS; ms += ms < 100_000 ? 1 : 13) {
      const upper = bucketUpperMs(latencyBucket(ms));
      if (upper < ms || upper > 1.25 * ms + 0.5) throw new Error(`${ms} ms reported as ${upper} ms`);
    }
  });
});

describe('bucketUpperMs', () => {
  test('is 1.25^b rounded to a whole millisecond', () => {
    expect([0, 1, 2, 3, 10, 31].map(bucketUpperMs)).toEqual([1, 1, 2, 2, 9, 1010]);
  });
});

describe('percentile', () => {
  test('of an empty histogram, or one whose counts are all 0, is null', () => {
    expect(percentile(new Map(), 0.5)).toBeNull();
    expect(percentile(new Map([[5, 0]]), 0.5)).toBeNull();
  });

  test('of one bucket is its upper bound for any p', () => {
    const h = new Map([[31, 4]]);
    for (const p of [0, 0.01, 0.5, 0.95, 1]) expect(percentile(h, p)).toBe(1010);
  });

  test('the rank is ceil(p * total), counted from the lowest bucket whatever the order of the map', () => {
    // 10 values: 3 in bucket 10 (9 ms), 5 in bucket 20 (87 ms), 2 in bucket 30 (808 ms)
    const entries: [number, number][] = [
      [30, 2],
      [10, 3],
      [20, 5],
      [25, 0],
    ];
    const h = new Map(entries);
    expect(percentile(h, 0)).toBe(9);
    expect(percentile(h, 0.3)).toBe(9);
    expect(percentile(h, 0.31)).toBe(87);
    expect(percentile(h, 0.8)).toBe(87);
    expect(percentile(h, 0.81)).toBe(808);
    expect(percentile(h, 1)).toBe(808);
    expect(percentile(new Map([...entries].reverse()), 0.5)).toBe(87);
  });

  test('is within 25 % above the exact percentile of the latencies it was built from', () => {
    const random = mulberry32(20261127);
    for (let run = 0; run < 20; run++) {
      const n = 1 + Math.floor(random() * 5000);
      // log-uniform from 1 ms to a minute, as whole milliseconds
      const latencies = Array.from({ length: n }, () => Math.max(1, Math.round(Math.exp(random() * Math.log(60_000)))));
      const histogram = new Map<number, number>();
      for (const ms of latencies) histogram.set(latencyBucket(ms), (histogram.get(latencyBucket(ms)) ?? 0) + 1);
      const sorted = [...latencies].sort((a, b) => a - b);
      for (const p of [0.01, 0.5, 0.9, 0.95, 0.99, 1]) {
        const exact = sorted[Math.max(1, Math.ceil(p * n)) - 1] as number;
        const reported = percentile(histogram, p) as number;
        expect(reported, `p${p * 100} of ${n} latencies`).toBeGreaterThanOrEqual(exact);
        expect(reported, `p${p * 100} of ${n} latencies`).toBeLessThanOrEqual(1.25 * exact + 0.5);
      }
    }
  });
});
