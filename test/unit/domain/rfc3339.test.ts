import { describe, expect, test } from 'vitest';
import { parseRfc3339 } from '../../../src/domain/time/rfc3339.ts';

describe('parseRfc3339', () => {
  test.each([
    ['2026-11-27T10:00:00Z', Date.UTC(2026, 10, 27, 10)],
    ['2026-11-27t10:00:00.5z', Date.UTC(2026, 10, 27, 10, 0, 0, 500)],
    ['2026-11-27T11:00:00+01:00', Date.UTC(2026, 10, 27, 10)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2026-11-27T10:00:00.123456789Z', Date.UTC(2026, 10, 27, 10, 0, 0, 123)],
  ])('%s is an instant', (value, ms) => expect(parseRfc3339(value)).toBe(ms));

  test.each([
    '2026-02-30T00:00:00Z',
    '2025-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-27T24:00:00Z',
    '2026-11-27T10:60:00Z',
    '2026-11-27T10:00:00+24:00',
    '2026-11-27T10:00:00',
    '2026-11-27 10:00:00Z',
    'yesterday',
    '',
  ])('%s is refused', (value) => expect(parseRfc3339(value)).toBeNull());

  test('a date alone is its UTC midnight only where dates are allowed', () => {
    expect(parseRfc3339('2026-11-27')).toBeNull();
    expect(parseRfc3339('2026-11-27', { dateOnly: true })).toBe(Date.UTC(2026, 10, 27));
    expect(parseRfc3339('2026-02-30', { dateOnly: true })).toBeNull();
  });
});
