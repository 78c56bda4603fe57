import { describe, expect, test } from 'vitest';
import { rateLimitHeaders, refusalMessage, secondsUntil } from '../../../../src/domain/client/rate-limit.ts';

describe('rate limit headers', () => {
  test('accepted: the policy and the state after the call, no Retry-After', () => {
    expect(rateLimitHeaders({ allowed: true, limit: 5, remaining: 3, resetMs: 41_200 })).toEqual({
      'RateLimit-Policy': '5;w=60',
      RateLimit: 'limit=5, remaining=3, reset=42',
    });
  });

  test('refused: Retry-After and reset are the seconds until enough of the window frees up, rounded up', () => {
    expect(rateLimitHeaders({ allowed: false, limit: 5, remaining: 0, retryAfterMs: 12_001 })).toEqual({
      'RateLimit-Policy': '5;w=60',
      RateLimit: 'limit=5, remaining=0, reset=13',
      'Retry-After': '13',
    });
  });

  test('refused for good (a batch larger than the limit): no Retry-After, as waiting cannot help', () => {
    const headers = rateLimitHeaders({ allowed: false, limit: 5, remaining: 5, retryAfterMs: null });
    expect(headers).not.toHaveProperty('Retry-After');
    expect(headers.RateLimit).toBe('limit=5, remaining=5, reset=60');
  });

  test('seconds are whole, rounded up, at least 1', () => {
    expect([secondsUntil(0), secondsUntil(1), secondsUntil(1000), secondsUntil(1001), secondsUntil(60_000)]).toEqual([
      1, 1, 1, 2, 60,
    ]);
  });
});

describe('refusal message', () => {
  test('a batch larger than the limit says so and how to split it', () => {
    expect(refusalMessage({ allowed: false, limit: 5, remaining: 5, retryAfterMs: null }, 8, 'free')).toBe(
      "8 tasks in one call exceed the free tier's limit of 5 per minute: split the batch into calls of at most 5 tasks",
    );
  });

  test('otherwise it names the tier, what is left and when to retry', () => {
    expect(refusalMessage({ allowed: false, limit: 5, remaining: 1, retryAfterMs: 2500 }, 2, 'free')).toBe(
      'rate limit of the free tier (5 tasks per minute) reached: 1 left in the window, 2 asked for; retry after 3 s',
    );
  });
});
