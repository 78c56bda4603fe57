import { describe, expect, test } from 'vitest';
import { backoffMs, JITTER, nominalBackoffMs, type RetryPolicy } from '../../../src/domain/retry/backoff.ts';
import { mulberry32 } from '../../support/given.ts';

const policy = (minBackoffMs: number, maxBackoffMs: number): RetryPolicy => ({
  maxRetries: 5,
  minBackoffMs,
  maxBackoffMs,
});
const SEED: RetryPolicy = policy(1_000, 3_600_000);
const MIDPOINT = 0.5;

describe('nominal backoff', () => {
  test('doubles from the minimum with each retry', () => {
    expect([1, 2, 3, 4, 5, 6].map((r) => nominalBackoffMs(r, SEED))).toStrictEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000,
    ]);
  });

  test('is capped at the maximum', () => {
    const p = policy(1_000, 10_000);
    expect([3, 4, 5, 6, 30].map((r) => nominalBackoffMs(r, p))).toStrictEqual([4_000, 8_000, 10_000, 10_000, 10_000]);
  });

  test('stays at the maximum for absurd retry counts instead of overflowing', () => {
    expect(nominalBackoffMs(5_000, SEED)).toBe(3_600_000);
  });

  test('the seed policy reaches its one-hour cap on the thirteenth retry', () => {
    expect(nominalBackoffMs(12, SEED)).toBe(2_048_000);
    expect(nominalBackoffMs(13, SEED)).toBe(3_600_000);
  });
});

describe('jittered backoff', () => {
  test('a mid-range draw gives exactly the nominal delay', () => {
    expect([1, 2, 3, 4].map((r) => backoffMs(r, SEED, MIDPOINT))).toStrictEqual([1_000, 2_000, 4_000, 8_000]);
  });

  test('the lowest draw takes JITTER off the nominal delay', () => {
    expect(JITTER).toBe(0.2);
    expect(backoffMs(3, SEED, 0)).toBe(3_200);
  });

  test('the highest draw adds up to JITTER to the nominal delay', () => {
    expect(backoffMs(3, SEED, 0.999_999)).toBe(4_800);
  });

  test('jitter never takes the first retry below the minimum', () => {
    expect(backoffMs(1, SEED, 0)).toBe(1_000);
    expect(backoffMs(1, SEED, 0.999_999)).toBe(1_200);
  });

  test('jitter never takes a capped retry above the maximum', () => {
    expect(backoffMs(20, SEED, 0.999_999)).toBe(3_600_000);
    expect(backoffMs(20, SEED, 0)).toBe(2_880_000);
  });

  test('over many draws each delay is whole milliseconds, within ±JITTER of nominal and within [min, max]', () => {
    const random = mulberry32(7);
    const policies = [SEED, policy(500, 2_500), policy(100, 100), policy(250, 60_000)];
    for (const p of policies) {
      for (let retry = 1; retry <= 20; retry++) {
        const nominal = nominalBackoffMs(retry, p);
        for (let i = 0; i < 50; i++) {
          const delay = backoffMs(retry, p, random());
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(Math.max(p.minBackoffMs, Math.floor(nominal * (1 - JITTER))));
          expect(delay).toBeLessThanOrEqual(Math.min(p.maxBackoffMs, Math.ceil(nominal * (1 + JITTER))));
        }
      }
    }
  });

  test('the draws spread over both sides of the nominal delay', () => {
    const random = mulberry32(11);
    const delays = Array.from({ length: 200 }, () => backoffMs(4, SEED, random()));
    expect(Math.min(...delays)).toBeLessThan(6_800);
    expect(Math.max(...delays)).toBeGreaterThan(9_200);
  });
});

describe('policies in decimal seconds', () => {
  const halfSecond = policy(0.5 * 1000, 2.5 * 1000);

  test('a 0.5 s minimum doubles to 1, 2, then the 2.5 s cap', () => {
    expect([1, 2, 3, 4, 5].map((r) => backoffMs(r, halfSecond, MIDPOINT))).toStrictEqual([
      500, 1_000, 2_000, 2_500, 2_500,
    ]);
  });

  test('jitter keeps a 0.5 s minimum and a 2.5 s maximum', () => {
    expect(backoffMs(1, halfSecond, 0)).toBe(500);
    expect(backoffMs(3, halfSecond, 0)).toBe(1_600);
    expect(backoffMs(3, halfSecond, 0.999_999)).toBe(2_400);
    expect(backoffMs(4, halfSecond, 0.999_999)).toBe(2_500);
  });

  test('a 0.25 s minimum gives quarter-second steps', () => {
    const p = policy(0.25 * 1000, 3_600_000);
    expect([1, 2, 3].map((r) => backoffMs(r, p, MIDPOINT))).toStrictEqual([250, 500, 1_000]);
  });
});
