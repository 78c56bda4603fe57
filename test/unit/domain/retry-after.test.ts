import { describe, expect, test } from 'vitest';
import { parseHttpDate, parseRetryAfter, retryAfterMs } from '../../../src/domain/retry/retry-after.ts';

const T0 = Date.UTC(2025, 0, 1);

describe('parseRetryAfter', () => {
  test.each([
    ['0', 0],
    ['7', 7_000],
    [' 120 ', 120_000],
    ['007', 7_000],
  ])('delta-seconds %j waits %i ms', (value, ms) => expect(parseRetryAfter(value, T0)).toBe(ms));

  test('an IMF-fixdate waits until that instant', () =>
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', T0)).toBe(30_000));

  test('the obsolete RFC 850 and asctime forms are read too', () => {
    expect(parseRetryAfter('Wednesday, 01-Jan-25 00:01:00 GMT', T0)).toBe(60_000);
    expect(parseRetryAfter('Wed Jan  1 00:00:10 2025', T0)).toBe(10_000);
  });

  test('a date in the past asks for no wait', () => {
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', T0)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', T0)).toBe(0);
  });

  test.each([
    undefined,
    '',
    '-5',
    '1.5',
    '+3',
    'soon',
    '5 s',
    '0x10',
    'Wed, 31 Feb 2025 00:00:00 GMT',
    'Wed, 01 Jan 2025 24:00:00 GMT',
    'Wed, 01 Jan 2025 00:00:30 UTC',
    '2025-01-01T00:00:30Z',
  ])('garbage %j asks for nothing', (value) => expect(parseRetryAfter(value, T0)).toBeNull());

  test('a huge delta stays a finite number', () =>
    expect(Number.isFinite(parseRetryAfter('9'.repeat(400), T0))).toBe(true));
});

describe('parseHttpDate', () => {
  test('a two-digit RFC 850 year more than 50 years ahead is in the past century', () => {
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', T0)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate('Friday, 06-Nov-54 08:49:37 GMT', T0)).toBe(Date.UTC(2054, 10, 6, 8, 49, 37));
  });
});

describe('retryAfterMs', () => {
  test('only a 429 or a 503 is read', () => {
    expect(retryAfterMs(429, '7', T0)).toBe(7_000);
    expect(retryAfterMs(503, '7', T0)).toBe(7_000);
    for (const status of [200, 301, 500, 502]) expect(retryAfterMs(status, '7', T0), String(status)).toBeNull();
  });

  test('no header, no wait', () => expect(retryAfterMs(429, undefined, T0)).toBeNull());
});
